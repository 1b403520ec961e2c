import { test, expect } from '@playwright/test';
import { acceptInvitation, allMailTo, confirmationPath, confirmEmail, CONFIRM_SUBJECT, expectAccessible, fillLinkForm, freshPage, inviteCarerToActFor, lockWithWrongPasscodes, mailTo, makeLink, ready, runKith, signIn, signUp, subjects, uniqueEmail } from './helpers';

// Emails to the patient, through a real SMTP server (end2end/mail/smtp-sink.mjs,
// npm smtp-server) that this deployment's Kith sends to (KITH_SMTP_URL).
// Each project makes its own patient, so every email here is this test's.

const nhsNumbers: Record<string, string> = { js: '9990550018', 'no-js': '9990550026' };

const FIRST_VIEW = 'Someone new has viewed your Kith record';
const LOCKED = 'A shared link to your Kith record was locked';
const EMERGENCY = 'Emergency access to your Kith record';

test('the patient is emailed when someone new opens the record, when a link locks and on emergency access, with no names or health data, until the patient stops them', async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  const email = uniqueEmail(info, 'edith');
  const nhs = nhsNumbers[info.project.name];
  runKith(['user', 'add', '--email', email, '--name', 'Edith Mailer', '--role', 'patient', '--nhs-number', nhs, '--birth-date', '1940-02-03'], 'kettle orange stairs\n');
  await signIn(page, info, email, 'kettle orange stairs');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Edith Mailer');
  expect(await mailTo(page, email)).toEqual([]);
  // The access log says where the emails go, and that none goes to an
  // address she has not confirmed (the operator added her).
  await page.goto('/access-log');
  await ready(page, info);
  await expect(page.getByTestId('emailed-to')).toContainText(`We also email you at ${email}`);
  await expect(page.getByTestId('emailed-to-unconfirmed')).toContainText(`None of these emails is sent until you confirm that ${email} is your address`);
  await expectAccessible(page, info);
  // The operator checked it with her.
  runKith(['user', 'confirm-email', '--email', email]);
  await page.reload();
  await ready(page, info);
  await expect(page.getByTestId('emailed-to')).toContainText(`We also email you at ${email}`);
  await expect(page.getByTestId('emailed-to-unconfirmed')).toHaveCount(0);

  // A link with a passcode; a paramedic opens it.
  const path = await makeLink(page, info, 'Ambulance', '4821');
  const medic = await freshPage(browser, info);
  await medic.goto(path);
  await ready(medic, info);
  await fillLinkForm(medic, { passcode: '4821', name: 'Pat Medic', role: 'Paramedic', organisation: 'Yorkshire Ambulance Service' });
  await expect(medic.getByRole('heading', { level: 1 })).toHaveText("Edith Mailer's record");
  await medic.context().close();

  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual([FIRST_VIEW]);
  const [first] = await mailTo(page, email);
  expect(first.from).toBe('kith@example.org');
  expect(first.text).toContain('Hello Edith Mailer');
  expect(first.text).toContain(`${info.project.use.baseURL}/access-log`);
  for (const secret of ['Pat Medic', 'Paramedic', 'Yorkshire', 'Ambulance']) expect(first.text).not.toContain(secret);
  // In the app, the message does name who it was.
  await page.goto('/');
  await expect(page.getByTestId('messages')).toContainText('Pat Medic');

  // Five wrong passcodes lock the link: one more email.
  await lockWithWrongPasscodes(browser, info, path);
  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual([FIRST_VIEW, LOCKED]);

  // Emergency access by a clinician: an email that gives neither name nor reason.
  const drName = `Dr Mailtest ${info.project.name}`;
  const dr = await freshPage(browser, info);
  const drEmail = await signUp(dr, info, drName, 'A clinician or care professional', 'Out-of-area A&E');
  runKith(['user', 'verify-clinician', '--email', drEmail]);
  await dr.reload();
  await ready(dr, info);
  await dr.getByLabel("The patient's NHS Number").fill(nhs);
  await dr.getByLabel('Why you need the record now').fill('Unconscious after a fall, needs medicines list');
  await dr.getByRole('button', { name: 'Open the record in an emergency' }).click();
  await expect(dr.getByRole('heading', { level: 1 })).toHaveText("Edith Mailer's record");
  await dr.context().close();
  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual([FIRST_VIEW, LOCKED, EMERGENCY]);
  // Her view after emergency access does not count as someone new as well
  // (the sender runs every 3 s: give it a round to show a stray email).
  await page.waitForTimeout(4_000);
  expect(await subjects(page, email)).toEqual([FIRST_VIEW, LOCKED, EMERGENCY]);
  const emergency = (await mailTo(page, email)).find((m) => m.subject === EMERGENCY)!;
  for (const secret of [drName, 'Out-of-area', 'Unconscious']) expect(emergency.text).not.toContain(secret);
  expect(emergency.text).toContain('emergency access');

  // The patient stops the emails: the next new viewer is in the app only.
  await page.goto('/access-log');
  await ready(page, info);
  await page.getByRole('button', { name: 'Stop these emails' }).click();
  await expect(page.getByTestId('emailed-to')).toContainText('You have turned off the emails about your record');
  const path2 = await makeLink(page, info, 'Out of hours');
  const gp = await freshPage(browser, info);
  await gp.goto(path2);
  await ready(gp, info);
  await fillLinkForm(gp, { name: 'Out Of Hours GP', role: 'GP', organisation: 'NHS 111' });
  await expect(gp.getByRole('heading', { level: 1 })).toHaveText("Edith Mailer's record");
  // The summary has loaded, so the view is logged: closing sooner could
  // cancel the request before its view (and the message) is written.
  await expect(gp.getByTestId('nhs-number')).toBeVisible();
  await gp.context().close();
  await page.goto('/');
  await expect(page.getByTestId('messages')).toContainText('Out Of Hours GP');
  await page.waitForTimeout(4_000);
  expect(await subjects(page, email)).toEqual([FIRST_VIEW, LOCKED, EMERGENCY]);
});

const CARER_FIRST_VIEW = 'Someone new has viewed a Kith record you look after';
const carerNhsNumbers: Record<string, string> = { js: '9990551006', 'no-js': '9990551014' };

test('a family carer acting for the patient is emailed too, never about their own first look, without the patient named, until the carer stops them', async ({ page, browser }, info) => {
  test.setTimeout(150_000);
  const tag = info.project.name;
  const email = uniqueEmail(info, 'olive');
  const patientName = `Olive Mailer ${tag}`;
  runKith(['user', 'add', '--email', email, '--name', patientName, '--role', 'patient', '--nhs-number', carerNhsNumbers[tag], '--birth-date', '1938-05-06'], 'kettle orange stairs\n');
  // The operator emails links to everyone added who has none yet.
  const smtp = `smtp://127.0.0.1:${process.env.KITH_E2E_SMTP_PORT ?? '3194'}`;
  expect(runKith(['user', 'send-confirmations', '--smtp-url', smtp, '--mail-from', 'Kith <kith@example.org>', '--public-url', `${info.project.use.baseURL}`])).toMatch(/Sent [1-9]\d* links/);
  const carer = await freshPage(browser, info);
  const carerEmail = await signUp(carer, info, `Dora Daughter ${tag}`, 'A family carer, helping someone I care for');
  await confirmEmail(carer, info, carerEmail);

  await signIn(page, info, email, 'kettle orange stairs');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Hello, ${patientName}`);
  await confirmEmail(page, info, email);
  const invitation = await inviteCarerToActFor(page, info, carerEmail);

  // The carer's own first look tells the patient, not the carer.
  await acceptInvitation(carer, info, invitation);
  await expect(carer.getByTestId('nhs-number')).toBeVisible();
  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual([FIRST_VIEW]);
  expect(await mailTo(page, carerEmail)).toEqual([]);
  await carer.goto('/access-log');
  await ready(carer, info);
  await expect(carer.getByTestId('emailed-to')).toContainText(`As you act for this person, we also email you at ${carerEmail}`);
  await expectAccessible(carer, info);

  // A paramedic opens a link: both are told, the carer without the patient's name.
  const path = await makeLink(page, info, 'Ambulance');
  const medic = await freshPage(browser, info);
  await medic.goto(path);
  await ready(medic, info);
  await fillLinkForm(medic, { name: 'Pat Medic', role: 'Paramedic', organisation: 'Yorkshire Ambulance Service' });
  await expect(medic.getByTestId('nhs-number')).toBeVisible();
  await medic.context().close();
  await expect.poll(() => subjects(page, carerEmail), { timeout: 20_000 }).toEqual([CARER_FIRST_VIEW]);
  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual([FIRST_VIEW, FIRST_VIEW]);
  const [toCarer] = await mailTo(page, carerEmail);
  expect(toCarer.text).toContain(`Hello Dora Daughter ${tag}`);
  for (const secret of ['Olive', 'Mailer', 'Pat Medic', 'Paramedic', 'Yorkshire', 'Ambulance']) expect(toCarer.text).not.toContain(secret);

  // The carer stops their own emails; the patient's go on.
  await carer.getByRole('button', { name: 'Stop these emails' }).click();
  await expect(carer.getByTestId('emailed-to')).toContainText('You have turned off the emails about the records you act for');
  const gp = await freshPage(browser, info);
  await gp.goto(path);
  await ready(gp, info);
  await fillLinkForm(gp, { name: 'Out Of Hours GP', role: 'GP', organisation: 'NHS 111' });
  await expect(gp.getByTestId('nhs-number')).toBeVisible();
  await gp.context().close();
  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual([FIRST_VIEW, FIRST_VIEW, FIRST_VIEW]);
  await page.waitForTimeout(4_000);
  expect(await subjects(page, carerEmail)).toEqual([CARER_FIRST_VIEW]);
  await carer.context().close();
});

test('a forgotten password is set again through a link by email, which works once and signs out every other browser', async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  const tag = info.project.name;
  const other = await freshPage(browser, info);
  const email = await signUp(other, info, `Fay Forgetful ${tag}`, 'A family carer, helping someone I care for');
  await confirmEmail(other, info, email);

  // She has forgotten it: from the sign-in page she asks for a link.
  await page.goto('/sign-in');
  await ready(page, info);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Forgot your password?');
  await ready(page, info);
  await expectAccessible(page, info);
  await page.getByLabel('Email address').fill(email.toUpperCase());
  await page.getByRole('button', { name: 'Email me a link' }).click();
  await expect(page.getByTestId('reset-sent')).toContainText('If a Kith account uses that email address');
  // An address with no account gets the same answer, and no email.
  await page.getByLabel('Email address').fill(`nobody.${tag}.${Date.now()}@example.com`);
  await page.getByRole('button', { name: 'Email me a link' }).click();
  await expect(page.getByTestId('reset-sent')).toBeVisible();

  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual(['Set a new password for Kith']);
  const [mail] = await mailTo(page, email);
  const link = mail.text.match(/https?:\/\/\S+\/reset-password\/[0-9a-f]{64}/)![0];
  const path = new URL(link).pathname;

  await page.goto(path);
  await ready(page, info);
  await expectAccessible(page, info);
  await page.getByLabel('New password', { exact: true }).fill('amber meadow falcon');
  await page.getByLabel('New password again').fill('amber meadow falcons');
  await page.getByRole('button', { name: 'Set my new password' }).click();
  await expect(page.getByRole('alert')).toContainText('The two new passwords do not match');
  await page.getByLabel('New password', { exact: true }).fill('amber meadow falcon');
  await page.getByLabel('New password again').fill('amber meadow falcon');
  await page.getByRole('button', { name: 'Set my new password' }).click();
  await expect(page.getByTestId('done-notice')).toContainText('Your new password is set');

  // The browser that was signed in with the old password is signed out.
  await other.goto('/account');
  await expect(other).toHaveURL(/\/sign-in/);
  await other.context().close();
  await signIn(page, info, email, 'amber meadow falcon');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Hello, Fay Forgetful ${tag}`);

  // She is told her password changed, in case it was not her.
  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual(['Set a new password for Kith', 'Your Kith password was changed']);
  // The link does not work twice.
  await page.goto(path);
  await expect(page.getByTestId('reset-gone')).toContainText('has expired or has already been used');
});

test('an email address is confirmed, or changed, by its owner, signed in, before Kith sends it anything else', async ({ page, browser }, info) => {
  test.setTimeout(90_000);
  const tag = info.project.name;
  const email = uniqueEmail(info, 'nora');
  runKith(['user', 'add', '--email', email, '--name', `Nora Newcomer ${tag}`, '--role', 'carer'], 'kettle orange stairs\n');
  await signIn(page, info, email, 'kettle orange stairs');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Hello, Nora Newcomer ${tag}`);
  // Her home page asks her to confirm it, and sends the link.
  await expect(page.getByTestId('confirm-email-reminder')).toContainText(`Please confirm your email address, ${email}`);
  await expectAccessible(page, info);
  await page.getByRole('button', { name: 'Email me a link to confirm it' }).click();
  await expect(page.getByTestId('confirmation-sent')).toContainText(`We have emailed a link to ${email}`);
  await expect(page.getByTestId('email-status')).toHaveText(`${email} is not confirmed yet.`);
  await expectAccessible(page, info);
  const path = await confirmationPath(page, email);
  const [mail] = await allMailTo(page, email);
  expect(mail.subject).toBe(CONFIRM_SUBJECT);
  expect(mail.text).toContain(`Hello Nora Newcomer ${tag}`);

  // She opens it on another device, not signed in there: she signs in and
  // comes back to it, then confirms.
  const phone = await freshPage(browser, info);
  await phone.goto(path);
  await ready(phone, info);
  await expect(phone.getByTestId('confirm-sign-in')).toContainText('To confirm your email address, sign in to your Kith account');
  await expect(phone.getByTestId('confirm-sign-in')).not.toContainText(email);
  await expectAccessible(phone, info);
  await phone.getByRole('link', { name: 'Sign in' }).last().click();
  await expect(phone).toHaveURL(/\/sign-in/);
  await ready(phone, info);
  await phone.getByLabel('Email address').fill(email);
  await phone.getByLabel('Password').fill('kettle orange stairs');
  await phone.getByRole('button', { name: 'Sign in' }).click();
  await expect(phone.getByTestId('confirm-ready')).toContainText(`Press the button to confirm that ${email} is your email address`);
  await ready(phone, info);
  await expectAccessible(phone, info);
  await phone.getByRole('button', { name: 'Confirm my email address' }).click();
  await expect(phone.getByText('Thank you: your email address is confirmed.')).toBeVisible();
  await expect(phone.getByTestId('email-status')).toHaveText(`${email} is confirmed. Kith emails you there.`);
  await phone.context().close();

  // The link is used up, and the reminder has gone.
  await page.goto(path);
  await expect(page.getByTestId('confirm-gone')).toContainText('has expired or has already been used');
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Hello, Nora Newcomer ${tag}`);
  await expect(page.getByTestId('confirm-email-reminder')).toHaveCount(0);

  // She moves to a new address: it takes over only once she opens the link
  // sent to it, and the old address is told.
  const newEmail = uniqueEmail(info, 'nora.moved');
  await page.goto('/account#email');
  await ready(page, info);
  await page.getByLabel('New email address').fill(newEmail);
  await page.getByLabel('Your password').fill('wrong guess');
  await page.getByRole('button', { name: 'Change my email address' }).click();
  await expect(page.getByRole('alert')).toContainText('Your password is not right');
  await page.getByLabel('Your password').fill('kettle orange stairs');
  await page.getByRole('button', { name: 'Change my email address' }).click();
  await expect(page.getByTestId('email-link-sent')).toContainText(`until then Kith goes on using ${email}`);
  await expectAccessible(page, info);
  let moveLink = '';
  await expect
    .poll(async () => {
      const m = (await allMailTo(page, newEmail)).find((x) => x.subject === 'Confirm your new email address for Kith');
      moveLink = m?.text.match(/https?:\/\/\S+\/confirm-email\/[0-9a-f]{64}/)?.[0] ?? '';
      return moveLink;
    }, { timeout: 20_000 })
    .not.toBe('');
  await page.goto(new URL(moveLink).pathname);
  await expect(page.getByTestId('confirm-ready')).toContainText(`Press the button to make ${newEmail} the email address of your Kith account`);
  await ready(page, info);
  await page.getByRole('button', { name: 'Change to this email address' }).click();
  await expect(page.getByTestId('email-status')).toHaveText(`${newEmail} is confirmed. Kith emails you there.`);
  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual(['The email address of your Kith account was changed']);
  const [told] = await mailTo(page, email);
  expect(told.text).not.toContain(newEmail);
  // She signs in with the new address now.
  const later = await freshPage(browser, info);
  await signIn(later, info, newEmail, 'kettle orange stairs');
  await expect(later.getByRole('heading', { level: 1 })).toHaveText(`Hello, Nora Newcomer ${tag}`);
  await later.context().close();
});
