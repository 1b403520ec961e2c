import { test, expect, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { expectAccessible, freshPage, ready, signIn, signUp, uniqueEmail } from './helpers';

// Emails to the patient, through a real SMTP server (end2end/mail/smtp-sink.mjs,
// npm smtp-server) that this deployment's Kith sends to (KITH_SMTP_URL).
// Each project makes its own patient, so every email here is this test's.

const kith = `${__dirname}/../../${process.env.KITH_E2E_BIN ?? 'target/debug/kith'}`;
const sink = `http://127.0.0.1:${process.env.KITH_E2E_SMTP_HTTP_PORT ?? '3195'}`;
const nhsNumbers: Record<string, string> = { js: '9990550018', 'no-js': '9990550026' };

type Mail = { to: string[]; from: string; subject: string; text: string };

async function mailTo(page: Page, address: string): Promise<Mail[]> {
  const r = await page.request.get(`${sink}/messages`);
  expect(r.ok()).toBeTruthy();
  return ((await r.json()) as Mail[]).filter((m) => m.to.includes(address.toLowerCase()));
}

async function subjects(page: Page, address: string): Promise<string[]> {
  return (await mailTo(page, address)).map((m) => m.subject);
}

const FIRST_VIEW = 'Someone new has viewed your Kith record';
const LOCKED = 'A shared link to your Kith record was locked';
const EMERGENCY = 'Emergency access to your Kith record';

test('the patient is emailed when someone new opens the record, when a link locks and on emergency access, with no names or health data, until the patient stops them', async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  const email = uniqueEmail(info, 'edith');
  const nhs = nhsNumbers[info.project.name];
  execFileSync(kith, ['user', 'add', '--email', email, '--name', 'Edith Mailer', '--role', 'patient', '--nhs-number', nhs, '--birth-date', '1940-02-03'], {
    cwd: `${__dirname}/../..`,
    input: 'kettle orange stairs\n',
  });
  await signIn(page, info, email, 'kettle orange stairs');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Edith Mailer');
  expect(await mailTo(page, email)).toEqual([]);
  // The access log says where the emails go.
  await page.goto('/access-log');
  await ready(page, info);
  await expect(page.getByTestId('emailed-to')).toContainText(`We also email you at ${email}`);
  await expectAccessible(page, info);

  // A link with a passcode; a paramedic opens it.
  await page.goto('/sharing');
  await ready(page, info);
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'Make a link for a clinician' }) });
  await form.getByLabel('A name to recognise it by').fill('Ambulance');
  await form.getByLabel('Passcode (optional)').fill('4821');
  await form.getByRole('button', { name: 'Make link' }).click();
  const path = new URL((await page.getByTestId('link-url').first().textContent())!).pathname;
  const medic = await freshPage(browser, info);
  await medic.goto(path);
  await ready(medic, info);
  await medic.getByLabel('Passcode').fill('4821');
  await medic.getByLabel('Your name').fill('Pat Medic');
  await medic.getByLabel('Your role').fill('Paramedic');
  await medic.getByLabel('Your organisation').fill('Yorkshire Ambulance Service');
  await medic.getByRole('button', { name: 'Open the record' }).click();
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
  const guesser = await freshPage(browser, info);
  await guesser.goto(path);
  await ready(guesser, info);
  for (let i = 0; i < 5; i++) {
    await guesser.getByLabel('Passcode').fill('0000');
    await guesser.getByLabel('Your name').fill('X');
    await guesser.getByLabel('Your role').fill('Y');
    await guesser.getByLabel('Your organisation').fill('Z');
    await guesser.getByRole('button', { name: 'Open the record' }).click();
    if (i < 4) await expect(guesser.locator('#passcode-error')).toContainText(`${4 - i} tries left`);
  }
  await expect(guesser.getByRole('alert').first()).toContainText('locked');
  await guesser.context().close();
  await expect.poll(() => subjects(page, email), { timeout: 20_000 }).toEqual([FIRST_VIEW, LOCKED]);

  // Emergency access by a clinician: an email that gives neither name nor reason.
  const drName = `Dr Mailtest ${info.project.name}`;
  const dr = await freshPage(browser, info);
  await signUp(dr, info, drName, 'A clinician or care professional', 'Out-of-area A&E');
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
  await page.goto('/sharing');
  await ready(page, info);
  const form2 = page.locator('section', { has: page.getByRole('heading', { name: 'Make a link for a clinician' }) });
  await form2.getByLabel('A name to recognise it by').fill('Out of hours');
  await form2.getByRole('button', { name: 'Make link' }).click();
  const path2 = new URL((await page.getByTestId('link-url').first().textContent())!).pathname;
  const gp = await freshPage(browser, info);
  await gp.goto(path2);
  await ready(gp, info);
  await gp.getByLabel('Your name').fill('Out Of Hours GP');
  await gp.getByLabel('Your role').fill('GP');
  await gp.getByLabel('Your organisation').fill('NHS 111');
  await gp.getByRole('button', { name: 'Open the record' }).click();
  await expect(gp.getByRole('heading', { level: 1 })).toHaveText("Edith Mailer's record");
  await gp.context().close();
  await page.goto('/');
  await expect(page.getByTestId('messages')).toContainText('Out Of Hours GP');
  await page.waitForTimeout(4_000);
  expect(await subjects(page, email)).toEqual([FIRST_VIEW, LOCKED, EMERGENCY]);
});
