import { expect, test } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptInvitation, changePassword, expectAccessible, freshPage, newInvitationPath, ready, runKith, signIn, signUp, signUpPatient } from './helpers';

// Ray's record (imported from the shared multiprovider fixtures) is used here,
// so these tests leave Margaret's demo record as the other specs expect it.
const ray = { email: 'ray@example.com', password: 'kettle orange stairs', nhs: '999 264 9690' };

test('the patient sees who viewed their record, and the log checks out', async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  const drName = `Dr Log ${info.project.name}`;
  const dr = await freshPage(browser, info);
  const drEmail = await signUp(dr, info, drName, 'A clinician or care professional', 'Leeds General Infirmary');

  // Ray shares the whole record with the new clinician.
  await signIn(page, info, ray.email, ray.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello');
  await page.goto('/sharing');
  await ready(page, info);
  const share = page.locator('section', { has: page.getByRole('heading', { name: 'Share with a person' }) });
  await share.getByLabel('Their email address').fill(drEmail);
  await share.getByLabel('A clinician or care professional').check();
  await share.getByLabel('My whole record (except private entries)').check();
  await share.getByRole('button', { name: 'Share' }).click();
  const invitation = await newInvitationPath(page);
  await expect(page.getByTestId('grant').filter({ hasText: drEmail })).toBeVisible();

  // The clinician accepts the invitation, and opens the record and one entry.
  await acceptInvitation(dr, info, invitation);
  await expect(dr.getByRole('heading', { level: 1 })).toHaveText("Ray Lindgren's record");
  await dr.goto('/timeline');
  await ready(dr, info);
  const first = dr.locator('.entry-item a').first();
  const entryName = (await first.textContent())!.trim();
  await first.click();
  await expect(dr.getByRole('heading', { level: 1 })).toHaveText(entryName);
  const entryPath = new URL(dr.url()).pathname;
  await dr.context().close();

  // Ray is told, and the log names the clinician, their organisation and what they saw.
  await page.goto('/');
  await ready(page, info);
  await expect(page.getByTestId('messages')).toContainText(`${drName} (clinician, Leeds General Infirmary) viewed your record for the first time.`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access log' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Access log');
  await ready(page, info);
  await expect(page.getByTestId('chain-status')).toContainText('Checked: nothing in this log has been changed or removed');
  const theirs = page.getByTestId('access-event').filter({ hasText: drName });
  await expect(theirs.filter({ hasText: 'Summary page' }).first()).toContainText('Leeds General Infirmary');
  await expect(theirs.filter({ hasText: 'An entry, with its original FHIR' }).first()).toContainText('Shared with them');
  await expect(theirs.first()).toContainText('New');
  await expectAccessible(page, info);

  // Filtering by person leaves only theirs.
  await page.getByLabel('Person').selectOption({ label: `${drName} (clinician)` });
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page.getByTestId('access-event').first()).toContainText(drName);
  for (const text of await page.getByTestId('access-event').allTextContents()) expect(text).toContain(drName);
  // Seen again so soon, the log checks only what was added since every
  // record was checked, says so, and offers a full check.
  const status = page.getByTestId('chain-status');
  await expect(status).toContainText('Every record was checked from the first at');
  await page.getByTestId('check-all').click();
  await expect(status).not.toContainText('Every record was checked from the first at');
  await expect(status).toContainText('Checked: nothing in this log has been changed or removed');

  // The entry says who has seen it.
  await page.goto(entryPath);
  await ready(page, info);
  await expect(page.getByTestId('seen-by')).toContainText(drName);
  await expectAccessible(page, info);

  // The downloads are there for anyone who wants to check.
  const csv = await page.request.get('/access-log/export.csv');
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain(drName);
});

test('emergency access: a clinician opens a record with a reason, and the patient is told', async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  const drName = `Dr Urgent ${info.project.name}`;
  const dr = await freshPage(browser, info);
  const drEmail = await signUp(dr, info, drName, 'A clinician or care professional', 'Out-of-area A&E');
  // Anyone can sign up as a clinician: emergency access waits until someone
  // checks their staff identity (here the operator, on the command line).
  await expect(dr.getByTestId('emergency-unverified')).toContainText('staff identity has been checked');
  await expect(dr.getByRole('button', { name: 'Open the record in an emergency' })).toHaveCount(0);
  expect(runKith(['user', 'verify-clinician', '--email', drEmail])).toContain('may use emergency access');
  await dr.reload();
  await ready(dr, info);
  const form = dr.locator('section', { has: dr.getByRole('heading', { name: 'Emergency access' }) });
  await expectAccessible(dr, info);
  // A reason is required.
  await form.getByLabel("The patient's NHS Number").fill(ray.nhs);
  await form.getByLabel('Why you need the record now').fill('urgent');
  await form.getByRole('button', { name: 'Open the record in an emergency' }).click();
  await expect(dr.getByRole('alert')).toContainText('Say why you need this record now');
  await dr.getByLabel('Why you need the record now').fill('Unconscious in A&E, needs medicines and allergies');
  await dr.getByRole('button', { name: 'Open the record in an emergency' }).click();
  await expect(dr.getByRole('heading', { level: 1 })).toHaveText("Ray Lindgren's record");
  await expect(dr.getByRole('banner').getByRole('region', { name: 'Whose record' })).toContainText('through emergency access');
  await dr.context().close();

  await signIn(page, info, ray.email, ray.password);
  await expect(page.getByTestId('messages')).toContainText(`Emergency access: ${drName} of Out-of-area A&E opened your record.`);
  await page.goto('/access-log?action=break-glass');
  await ready(page, info);
  const event = page.getByTestId('access-event').filter({ hasText: drName });
  await expect(event).toContainText('Emergency access');
  await expect(event).toContainText('Unconscious in A&E, needs medicines and allergies');
  await expect(event).toHaveClass(/border-red-700/);
});

test('changes to the patient\'s own account are in their log, and its chain file checks out without Kith\'s database', async ({ page }, info) => {
  test.setTimeout(90_000);
  // One new patient per project, on NHS Numbers no other spec uses.
  const nhs = ({ js: '9991000003', 'no-js': '9991000011' } as Record<string, string>)[info.project.name];
  const email = await signUpPatient(page, info, 'Paula Account', nhs, '1961-07-08');
  await changePassword(page, info, 'copper kettle hills', 'amber window fjord');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await signIn(page, info, email, 'copper kettle hills');
  await expect(page.getByRole('alert')).toContainText('not right');
  await signIn(page, info, email, 'amber window fjord');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Paula Account');

  await page.goto('/access-log');
  await ready(page, info);
  await expect(page.getByTestId('chain-status')).toContainText('Checked: nothing in this log has been changed or removed');
  const events = page.getByTestId('access-event');
  await expect(events.filter({ hasText: 'Account: password changed, other sessions ended' })).toContainText('Paula Account (you)');
  await expect(events.filter({ hasText: 'Account: password changed' })).toContainText('Changed');
  await expect(events.filter({ hasText: 'Failed sign-in' })).toHaveCount(1);
  // Newest first: the failed sign-in came after the change.
  const texts = await events.allTextContents();
  const changed = texts.findIndex((t) => t.includes('Account: password changed'));
  const failed = texts.findIndex((t) => t.includes('Failed sign-in'));
  expect(failed).toBeGreaterThanOrEqual(0);
  expect(failed).toBeLessThan(changed);
  await expectAccessible(page, info);

  // The page's link gives the chain file, and the command line checks it
  // with nothing but the file.
  const link = page.getByRole('link', { name: 'The whole chain, for checking' });
  const chain = await page.request.get((await link.getAttribute('href'))!);
  expect(chain.status()).toBe(200);
  expect(chain.headers()['content-disposition']).toContain('attachment');
  const body = await chain.text();
  expect(body).toContain('account: password changed, other sessions ended');
  const file = join(mkdtempSync(join(tmpdir(), 'kith-chain-')), 'chain.json');
  writeFileSync(file, body);
  expect(runKith(['audit', 'verify-file', file])).toContain('ok, ');
  // A changed byte in a hashed field is caught (exit status non-zero).
  writeFileSync(file, body.replace('account: password changed, other sessions ended', 'account: password changed, other sessions kept'));
  expect(() => runKith(['audit', 'verify-file', file])).toThrow();
});
