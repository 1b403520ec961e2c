import { expect, test } from '@playwright/test';
import { acceptInvitation, expectAccessible, freshPage, inviteCarerToActFor, ready, signUp, signUpPatient } from './helpers';

// One new patient per project, on NHS Numbers no other spec uses.
const nhsNumbers: Record<string, string> = { js: '9990700028', 'no-js': '9990700036' };
const carerNhsNumbers: Record<string, string> = { js: '9990700044', 'no-js': '9990700052' };

test('a patient adds a reading and an allergy by hand, corrects and removes the reading; mistakes come back beside their fields', async ({ page }, info) => {
  test.setTimeout(150_000);
  await signUpPatient(page, info, 'Hana Hand', nhsNumbers[info.project.name]);
  await page.goto('/timeline');
  await ready(page, info);
  await page.getByRole('link', { name: 'Add a reading, allergy, medicine or condition' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Add to your record');
  await page.getByRole('navigation', { name: 'What to add' }).getByRole('link', { name: 'A reading' }).click();
  await expect(page.getByRole('link', { name: 'A reading' })).toHaveAttribute('aria-current', 'page');

  // Two mistakes: no lower number, and a date to come.
  const form = page.getByTestId('add-entry-form');
  await form.getByLabel('Blood pressure (mmHg)').check();
  await form.getByLabel('The reading').fill('142');
  await form.getByLabel('Date taken').fill('2099-01-01');
  await form.getByRole('button', { name: 'Add to the record' }).click();
  const summary = page.locator('#error-summary');
  await expect(summary).toContainText('Enter the lower number');
  await expect(summary).toContainText('The date cannot be in the future');
  await expect(page.locator('#date-error')).toContainText('The date cannot be in the future');
  // What was typed is still there.
  await expect(page.getByLabel('The reading')).toHaveValue('142');
  await expect(page.getByLabel('Blood pressure (mmHg)')).toBeChecked();
  await expectAccessible(page, info);

  await page.getByLabel('Blood pressure only: the lower number (diastolic)').fill('88');
  await page.getByLabel('Date taken').fill('2026-11-30');
  await page.getByLabel('Time taken (optional)').fill('08:15');
  await page.getByRole('button', { name: 'Add to the record' }).click();
  await expect(page.getByTestId('done-notice')).toContainText('Added to the record');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Blood pressure');
  const facts = page.locator('main dl').first();
  await expect(facts).toContainText('142/88 mmHg');
  await expect(facts).toContainText('Entered by Hana Hand');
  await expect(page.getByText('2026-11-30T08:15:00+00:00').first()).toBeAttached();
  await expectAccessible(page, info);

  // She mistyped the upper number: she corrects it, and a slip on the way
  // comes back beside its field with what she typed.
  await page.getByTestId('hand-entry').getByRole('link', { name: 'Change or remove it' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Change or remove: Blood pressure');
  const change = page.getByTestId('change-entry-form');
  await expect(change.getByLabel('The reading')).toHaveValue('142');
  await expect(change.getByLabel('Blood pressure only: the lower number (diastolic)')).toHaveValue('88');
  await expect(change.getByLabel('Time taken (optional)')).toHaveValue('08:15');
  await expect(change.getByLabel('Blood pressure (mmHg)')).toBeChecked();
  await expectAccessible(page, info);
  await change.getByLabel('The reading').fill('80');
  await change.getByRole('button', { name: 'Save the change' }).click();
  await expect(page.locator('#second_value-error')).toContainText('must be smaller than the upper one');
  await expect(page.getByLabel('The reading')).toHaveValue('80');
  await page.getByLabel('The reading').fill('138');
  await page.getByRole('button', { name: 'Save the change' }).click();
  await expect(page.getByTestId('done-notice')).toContainText('Your change is saved');
  await expect(page.locator('main dl').first()).toContainText('138/88 mmHg');
  await expect(page.getByText('Version history (2)')).toBeVisible();

  // Then removes it: it stays, marked, and can be put back.
  await page.getByTestId('hand-entry').getByRole('link', { name: 'Change or remove it' }).click();
  await page.getByTestId('remove-entry-form').getByRole('button', { name: 'Remove this entry' }).click();
  await expect(page.getByTestId('done-notice')).toContainText('Removed');
  await expect(page.locator('main dl').first()).toContainText('entered in error');
  await expect(page.getByTestId('hand-entry').getByRole('link', { name: 'Put it back' })).toBeVisible();

  // An allergy she keeps to herself.
  await page.goto('/add?kind=allergy');
  await ready(page, info);
  await page.getByLabel('What are you allergic to?').fill('Sticking plasters');
  await page.getByLabel('What happens (optional)').fill('Red itchy skin');
  await page.getByLabel(/^Private/).check();
  await page.getByRole('button', { name: 'Add to the record' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sticking plasters');
  await expect(page.locator('main dl').first()).toContainText('Private');
  // The summary lists it with her allergies.
  await page.goto('/');
  await ready(page, info);
  await expect(page.locator('#allergies')).toContainText('Sticking plasters');

  // After a refusal, choosing another kind of entry shows its own form, clean.
  await page.goto('/add?kind=condition');
  await ready(page, info);
  await page.getByRole('button', { name: 'Add to the record' }).click();
  await expect(page.locator('#error-summary')).toContainText('Enter the name of the condition');
  await page.getByRole('navigation', { name: 'What to add' }).getByRole('link', { name: 'A medicine you take' }).click();
  await expect(page.getByLabel('Name of the medicine')).toBeVisible();
  await expect(page.locator('#error-summary')).toHaveCount(0);
  await expect(page.getByLabel('Name of the condition')).toHaveCount(0);
});

test('a carer acting for the patient adds a medicine for her, named as such, and cannot make it private', async ({ page, browser }, info) => {
  test.setTimeout(120_000);
  const tag = info.project.name;
  const carer = await freshPage(browser, info);
  const carerName = `Cara Hand ${tag}`;
  const carerEmail = await signUp(carer, info, carerName, 'A family carer, helping someone I care for');
  await signUpPatient(page, info, `Pat Hand ${tag}`, carerNhsNumbers[tag]);
  const invitation = await inviteCarerToActFor(page, info, carerEmail);
  await acceptInvitation(carer, info, invitation);

  await carer.goto('/add?kind=medicine');
  await ready(carer, info);
  await expect(carer.getByRole('heading', { level: 1 })).toHaveText(`Add to Pat Hand ${tag}'s record`);
  await expect(carer.getByLabel(/^General/)).toBeChecked();
  await expect(carer.getByLabel(/^Private/)).toHaveCount(0);
  await carer.getByLabel('Name of the medicine').fill('Paracetamol 500mg tablets');
  await carer.getByLabel('How you take it (optional)').fill('Two tablets up to four times a day');
  await carer.getByRole('button', { name: 'Add to the record' }).click();
  await expect(carer.getByRole('heading', { level: 1 })).toHaveText('Paracetamol 500mg tablets');
  await expect(carer.locator('main dl').first()).toContainText(`Entered by ${carerName} for Pat Hand ${tag}`);
  await carer.context().close();

  // The patient sees it, and who added it.
  await page.goto('/timeline?q=paracetamol');
  await ready(page, info);
  await expect(page.locator('.entry-item').filter({ hasText: 'Paracetamol 500mg tablets' })).toContainText(`Entered by ${carerName} for Pat Hand ${tag}`);

  // She may remove what he added (not change it): it leaves her medicines.
  await page.locator('.entry-item').filter({ hasText: 'Paracetamol 500mg tablets' }).getByRole('link', { name: 'Paracetamol 500mg tablets' }).click();
  await page.getByTestId('hand-entry').getByRole('link', { name: 'Remove it' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Remove: Paracetamol 500mg tablets');
  await expect(page.getByText(`${carerName} added this entry for you`)).toBeVisible();
  await expect(page.getByTestId('change-entry-form')).toHaveCount(0);
  await page.getByRole('button', { name: 'Remove this entry' }).click();
  await expect(page.getByTestId('done-notice')).toContainText('Removed');
  await page.goto('/');
  await ready(page, info);
  await expect(page.locator('#medicines')).not.toContainText('Paracetamol 500mg tablets');
});
