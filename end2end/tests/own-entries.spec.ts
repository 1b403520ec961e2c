import { expect, test } from '@playwright/test';
import { expectAccessible, ready, signUpPatient } from './helpers';

// One new patient per project, on NHS Numbers no other spec uses.
const nhsNumbers: Record<string, string> = { js: '9990700028', 'no-js': '9990700036' };

test('a patient adds a reading and an allergy by hand; mistakes come back beside their fields', async ({ page }, info) => {
  test.setTimeout(90_000);
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
});
