import { expect, test } from '@playwright/test';
import { acceptInvitation, demoPatient, expectAccessible, fillLinkForm, freshPage, inviteCarerToActFor, lockWithWrongPasscodes, makeLink, newInvitationPath, ready, signIn, signUp } from './helpers';

const clinician = { email: 'priya.shah@demo.kith.example', password: 'stethoscope maple' };

test('a patient shares only mental-health entries, then revokes', async ({ page, browser }, info) => {
  test.setTimeout(90_000);
  // The patient shares with the demo GP.
  await signIn(page, info, demoPatient.email, demoPatient.password);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sharing' }).click();
  await ready(page, info);
  await expectAccessible(page, info);
  const share = page.locator('section', { has: page.getByRole('heading', { name: 'Share with a person' }) });
  await share.getByLabel('Their email address').fill(clinician.email);
  await share.getByLabel('A clinician or care professional').check();
  await share.getByLabel('Only what I tick below').check();
  await share.getByLabel('Mental health').check();
  await share.getByRole('button', { name: 'Share' }).click();
  const invitation = await newInvitationPath(page);
  await expect(page.getByTestId('grant').filter({ hasText: clinician.email }).filter({ hasText: 'active' }).first()).toBeVisible();

  // The clinician, in their own browser, accepts the invitation the patient
  // gave them and sees exactly what was shared.
  const dr = await freshPage(browser, info);
  await signIn(dr, info, clinician.email, clinician.password);
  await expect(dr.getByRole('heading', { level: 1 })).toContainText('Hello');
  await acceptInvitation(dr, info, invitation);
  await expect(dr.getByRole('heading', { level: 1 })).toHaveText("Margaret Jones's record");
  await expect(dr.getByText('They have not shared everything with you.')).toBeVisible();
  await expect(dr.locator('#allergies')).toContainText('No allergies recorded');
  await dr.goto('/timeline');
  await ready(dr, info);
  const items = dr.locator('.entry-item');
  expect(await items.count()).toBeGreaterThan(0);
  for (const text of await items.allTextContents()) expect(text).toContain('Mental health');
  await expect(dr.getByRole('link', { name: 'Sharing' })).toHaveCount(0);
  await expectAccessible(dr, info);

  // The patient revokes; the clinician's very next page load no longer shows the record.
  const stop = page.getByRole('button', { name: `Stop sharing with ${clinician.email}` });
  while ((await stop.count()) > 0) {
    const before = await stop.count();
    await stop.first().click();
    await expect(stop).toHaveCount(before - 1);
  }
  await expect(page.getByTestId('grant').filter({ hasText: clinician.email }).filter({ hasText: 'active' })).toHaveCount(0);
  await dr.goto('/timeline');
  await expect(dr.getByText('We could not find that page.')).toBeVisible();
  await expect(dr.locator('.entry-item')).toHaveCount(0);
  await dr.context().close();
});

test('a passcode link opens in a fresh browser, and five wrong passcodes lock it', async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  await signIn(page, info, demoPatient.email, demoPatient.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello');
  const path = await makeLink(page, info, `A&E ${info.project.name}`, '4821');
  await expect(page.getByTestId('new-link').locator('svg')).toBeVisible();

  // A paramedic opens it with the passcode.
  const medic = await freshPage(browser, info);
  await medic.goto(path);
  await ready(medic, info);
  await expectAccessible(medic, info);
  await fillLinkForm(medic, { passcode: '4821', name: 'Pat Medic', role: 'Paramedic', organisation: 'Yorkshire Ambulance Service' });
  await expect(medic.getByRole('heading', { level: 1 })).toHaveText("Margaret Jones's record");
  await expect(medic.getByText('through a shared link')).toBeVisible();
  await expect(medic.locator('#allergies')).toContainText('Penicillin');
  await medic.context().close();

  // Someone guessing: four wrong passcodes are refused, the fifth locks the link.
  await lockWithWrongPasscodes(browser, info, path);

  await page.goto('/sharing');
  const listed = page.getByTestId('link').filter({ hasText: `A&E ${info.project.name}` });
  await expect(listed).toContainText('locked');
  // The list says when the link was made, and when it was last opened (by the paramedic).
  await expect(listed).toContainText(/Made \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2} · until .* · last opened \d{1,2} [A-Z][a-z]{2} \d{4}/);
});

test('a patient shares one chosen entry by link, and the clinician sees only that entry', async ({ page, browser }, info) => {
  test.setTimeout(90_000);
  await signIn(page, info, demoPatient.email, demoPatient.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello');
  await page.goto('/timeline');
  await ready(page, info);
  const first = page.locator('.entry-item a').first();
  const title = (await first.textContent())!.trim();
  await first.click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(title);
  await page.getByRole('link', { name: 'Share only this entry' }).click();
  await ready(page, info);
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'Make a link for a clinician' }) });
  await expect(form.getByLabel(`Only this entry: ${title}`)).toBeChecked();
  await form.getByLabel('A name to recognise it by').fill(`One entry ${info.project.name}`);
  await form.getByRole('button', { name: 'Make link' }).click();
  const url = await page.getByTestId('link-url').first().textContent();
  const medic = await freshPage(browser, info);
  await medic.goto(new URL(url!).pathname);
  await ready(medic, info);
  await medic.getByLabel('Your name').fill('Pat Medic');
  await medic.getByLabel('Your role').fill('Paramedic');
  await medic.getByLabel('Your organisation').fill('Yorkshire Ambulance Service');
  await medic.getByRole('button', { name: 'Open the record' }).click();
  await expect(medic.getByRole('heading', { level: 1 })).toContainText("Margaret Jones's record");
  await medic.goto('/timeline');
  await ready(medic, info);
  await expect(medic.locator('.entry-item')).toHaveCount(1);
  await expect(medic.locator('.entry-item')).toContainText(title);
  await medic.context().close();
});

test('an invitation, not the email address, decides who gets a share: the invited person signs up through it and accepts', async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  const email = `invited.${info.project.name}.${Date.now()}@example.com`;
  await signIn(page, info, demoPatient.email, demoPatient.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello');
  await page.goto('/sharing');
  await ready(page, info);
  const share = page.locator('section', { has: page.getByRole('heading', { name: 'Share with a person' }) });
  await share.getByLabel('Their email address').fill(email);
  await share.getByLabel('A clinician or care professional').check();
  await share.getByLabel('Only what I tick below').check();
  await share.getByLabel('Mental health').check();
  await share.getByRole('button', { name: 'Share' }).click();
  await expect(page.getByTestId('new-invitation')).toContainText('This is the only time it is shown');
  const lost = await newInvitationPath(page);
  await expect(page.getByTestId('grant').filter({ hasText: email }).getByTestId('invitation')).toContainText('Waiting for them to accept');
  // Say the first link went astray: a new one replaces it.
  await page.getByRole('button', { name: `Make a new invitation link for ${email}` }).click();
  await ready(page, info);
  const path = await newInvitationPath(page);
  expect(path).not.toBe(lost);

  // Someone who signs up with that email address first gets nothing.
  const squatter = await freshPage(browser, info);
  await squatter.goto('/sign-up');
  await ready(squatter, info);
  await squatter.getByLabel('Full name').fill('Mallory Squat');
  await squatter.getByLabel('Email address').fill(email);
  await squatter.getByLabel('Create a password').fill('copper kettle hills');
  await squatter.getByLabel('A clinician or care professional').check();
  await squatter.getByRole('button', { name: 'Create account' }).click();
  await expect(squatter.getByText('Records that patients share with you will appear here.')).toBeVisible();
  await expect(squatter.getByRole('button', { name: "Open Margaret Jones's record" })).toHaveCount(0);
  await squatter.context().close();

  // The person it was given to opens it before they have an account, makes
  // one (with their own address), comes back to it and accepts.
  const invited = await freshPage(browser, info);
  await invited.goto(path);
  await ready(invited, info);
  await expect(invited.getByRole('heading', { level: 1 })).toHaveText('Margaret Jones has invited you to see their health record');
  await expect(invited.getByTestId('invitation-offer')).toContainText('Mental health entries');
  await expectAccessible(invited, info);
  await invited.getByRole('link', { name: 'Create an account' }).click();
  await ready(invited, info);
  await expect(invited.getByLabel('Email address')).toHaveValue(email);
  await expect(invited.getByLabel('A clinician or care professional')).toBeChecked();
  const own = email.replace('invited.', 'dr.new.');
  await invited.getByLabel('Full name').fill('Dr New Person');
  await invited.getByLabel('Email address').fill(own);
  await invited.getByLabel('Create a password').fill('copper kettle hills');
  await invited.getByRole('button', { name: 'Create account' }).click();
  await expect(invited.getByRole('heading', { level: 1 })).toHaveText('Margaret Jones has invited you to see their health record');
  await expect(invited.getByText(`You are signed in as Dr New Person (${own})`)).toBeVisible();
  // "Not now" goes home, and the session no longer leads back to the
  // invitation; the link itself still works.
  await invited.getByRole('button', { name: 'Not now' }).click();
  await expect(invited.getByRole('heading', { level: 1 })).toContainText('Hello');
  await invited.goto('/invite');
  await ready(invited, info);
  await expect(invited.getByRole('heading', { level: 1 })).toHaveText('This invitation cannot be used');
  await invited.goto(path);
  await ready(invited, info);
  await invited.getByRole('button', { name: "Accept and open Margaret Jones's record" }).click();
  await expect(invited.getByRole('heading', { level: 1 })).toHaveText("Margaret Jones's record");
  await expect(invited.getByText('They have not shared everything with you.')).toBeVisible();
  // Once only; and the replaced link never worked again.
  for (const used of [path, lost]) {
    await invited.goto(used);
    await ready(invited, info);
    await expect(invited.getByRole('heading', { level: 1 })).toHaveText('This invitation cannot be used');
  }
  await invited.context().close();

  // The patient sees who accepted it, on the Sharing page and in her messages.
  await page.goto('/sharing');
  await ready(page, info);
  await expect(page.getByTestId('grant').filter({ hasText: email }).getByTestId('accepted-by')).toContainText(`Accepted by Dr New Person (${own})`);
  await page.goto('/');
  await expect(page.getByTestId('messages')).toContainText(`Dr New Person (${own}) accepted your invitation to share with ${email}`);
  // Each opening of the invitation's page is in her log: once before they
  // signed in, and as themselves after.
  await page.goto('/access-log');
  await ready(page, info);
  const opened = page.getByTestId('access-event').filter({ hasText: `Invitation for ${email} (clinician) opened` });
  await expect(opened.filter({ hasText: 'Someone with the invitation link' })).toHaveCount(1);
  await expect(opened.filter({ hasText: 'Dr New Person' })).toHaveCount(2);

  // Tidy: stop sharing, so later tests see Margaret's sharing as before.
  await page.goto('/sharing');
  await ready(page, info);
  await page.getByRole('button', { name: `Stop sharing with ${email}` }).click();
  await expect(page.getByRole('button', { name: `Stop sharing with ${email}` })).toHaveCount(0);
});

test("a family carer's access near its end is flagged for review, and the patient renews it", async ({ page }, info) => {
  test.setTimeout(60_000);
  const email = `carer.${info.project.name}.${Date.now()}@example.com`;
  await signIn(page, info, demoPatient.email, demoPatient.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello');
  await page.goto('/sharing');
  await ready(page, info);
  const share = page.locator('section', { has: page.getByRole('heading', { name: 'Share with a person' }) });
  await share.getByLabel('Their email address').fill(email);
  await share.getByLabel(/A family carer/).check();
  await share.getByLabel('Only what I tick below').check();
  await share.getByLabel('Medicines').check();
  await share.getByLabel('Ends after this many days (optional)').fill('20');
  await share.getByRole('button', { name: 'Share' }).click();
  const grant = page.getByTestId('grant').filter({ hasText: email });
  await expect(grant.getByTestId('review-due')).toContainText("Time to review this family carer's access");
  await page.goto('/');
  await expect(page.getByTestId('messages')).toContainText(`Review your family carer ${email}'s access`);
  await page.goto('/sharing');
  await ready(page, info);
  await page.getByTestId('grant').filter({ hasText: email }).getByRole('button', { name: 'Renew for 12 months' }).click();
  await expect(page.getByTestId('done-notice')).toHaveText('Renewed for another 12 months.');
  await expect(page.getByTestId('grant').filter({ hasText: email })).toBeVisible();
  await expect(page.getByTestId('grant').filter({ hasText: email }).getByTestId('review-due')).toHaveCount(0);
  await page.getByRole('button', { name: `Stop sharing with ${email}` }).click();
  await expect(page.getByRole('button', { name: `Stop sharing with ${email}` })).toHaveCount(0);
});

test("stopping a carer who acts for the patient stops the link they made for her, and the patient is told so first", async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  const tag = info.project.name;
  const carer = await freshPage(browser, info);
  const carerName = `Sam Helper ${tag}`;
  const carerEmail = await signUp(carer, info, carerName, 'A family carer, helping someone I care for');

  await signIn(page, info, demoPatient.email, demoPatient.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello');
  const invitation = await inviteCarerToActFor(page, info, carerEmail);
  await acceptInvitation(carer, info, invitation);

  // The carer makes a link for the ambulance crew, for Margaret.
  const linkName = `Ambulance (${tag} ${Date.now()})`;
  const link = await makeLink(carer, info, linkName);
  await carer.context().close();

  // Margaret sees who made it, and what stopping the carer would take with it.
  await page.goto('/sharing');
  await ready(page, info);
  const made = page.getByTestId('link').filter({ hasText: linkName });
  await expect(made.getByTestId('made-by')).toHaveText(`Made by ${carerName}, acting for you`);
  const carerRow = page.getByTestId('grant').filter({ hasText: carerEmail });
  await expect(carerRow.getByTestId('also-stops')).toHaveText('Stopping their access also stops what they shared for you: 1 link.');
  await expectAccessible(page, info);

  await carerRow.getByRole('button', { name: `Stop sharing with ${carerEmail}` }).click();
  await expect(page.getByRole('status')).toContainText('so did everything that person shared for you');
  await expect(made).toContainText('revoked');
  const crew = await freshPage(browser, info);
  await crew.goto(link);
  await expect(crew.getByText('This link cannot be opened')).toBeVisible();
  await crew.context().close();
});
