import { expect, test } from '@playwright/test';
import { expectAccessible, ready, signIn } from './helpers';

// Ray's record: the GP, hospital and community feeds of the shared
// multiprovider fixture, imported before the server starts.
const ray = { email: 'ray@example.com', password: 'kettle orange stairs' };

test.beforeEach(async ({ page }, info) => {
  await signIn(page, info, ray.email, ray.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello, Ray Lindgren');
});

test('the summary shows allergies first and every source of each item', async ({ page }, info) => {
  // With JavaScript the summary arrives after the heading: wait for it.
  await expect(page.locator('#allergies')).toBeVisible();
  const sections = await page.locator('main section h2').allTextContents();
  expect(sections.indexOf('Allergies')).toBeLessThan(sections.indexOf('Current problems'));
  await expect(page.getByText(/medicines? (is|are) recorded differently/)).toBeVisible();
  await expect(page.locator('#medicines').getByTestId('disagreement').first()).toBeVisible();
  await expectAccessible(page, info);
});

test('a condition stated by several organisations shows once, naming each', async ({ page }, info) => {
  await page.goto('/timeline?q=medication+review&from=2011-07-28&to=2011-07-28');
  await ready(page, info);
  const items = page.locator('.entry-item');
  await expect(items).toHaveCount(1);
  await expect(items.first()).toContainText('Medication review due');
  for (const org of ["CHILDREN'S HOSPITAL PEDIATRIC ASSOCIATES, INC", 'CAPE COD HOSPITAL INC', 'SPAULDING HOSPITAL FOR CONTINUING MC - NORTH SHORE']) {
    await expect(items.first()).toContainText(org);
  }
  await expectAccessible(page, info);
});

test('the medicine disagreement is flagged and explained on its page', async ({ page }, info) => {
  await page.goto('/timeline?q=sumatriptan&kind=medication');
  await ready(page, info);
  const flagged = page.locator('.entry-item', { has: page.getByTestId('disagreement') });
  await expect(flagged).toHaveCount(1);
  await flagged.getByRole('link').click();
  await expect(page.getByRole('heading', { name: 'The sources disagree' })).toBeVisible();
  const note = page.getByTestId('disagreement');
  await expect(note).toContainText('stopped');
  await expect(note).toContainText('active');
  // Every source's version side by side, each with its original FHIR JSON (collapsed).
  await expect(page.getByRole('heading', { level: 3 })).toHaveCount(3);
  await expect(page.locator('pre.fhir-json').first()).toBeHidden();
  await page.getByText('Original record (MedicationRequest').first().click();
  await expect(page.locator('pre.fhir-json').first()).toContainText('"resourceType": "MedicationRequest"');
  await expectAccessible(page, info);
});

test('a repeated measurement has a trend chart with a table of the same data', async ({ page }, info) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Results' }).click();
  await ready(page, info);
  const chart = page.locator('figure[data-series="Heart rate"]');
  await expect(chart.locator('svg[role="img"]')).toBeVisible();
  await chart.getByText('Show the readings as a table').click();
  expect(await chart.locator('tbody tr').count()).toBeGreaterThan(5);
  await expectAccessible(page, info);
});

test('timeline filters and search narrow the list', async ({ page }, info) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Timeline' }).click();
  await ready(page, info);
  await page.getByLabel('Kind of entry').selectOption('immunisation');
  await page.getByRole('button', { name: 'Show entries' }).click();
  await expect(page).toHaveURL(/kind=immunisation/);
  // With JavaScript the list updates in place: wait for it.
  await expect.poll(async () => {
    const kinds = await page.locator('.entry-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    return kinds.length > 0 && kinds.every((k) => k === 'immunisation');
  }).toBe(true);

  await page.getByLabel('Search').fill('influenza');
  await page.getByRole('button', { name: 'Show entries' }).click();
  await expect(page).toHaveURL(/q=influenza/);
  await expect.poll(async () => {
    const texts = await page.locator('.entry-item a').allTextContents();
    return texts.length > 0 && texts.every((t) => t.toLowerCase().includes('influenza'));
  }).toBe(true);

  // Paging: older entries continue where the page ended.
  await page.goto('/timeline');
  const firstPage = await page.locator('.entry-item a').allTextContents();
  expect(firstPage.length).toBe(50);
  await page.getByRole('link', { name: 'Older entries' }).click();
  await expect(page).toHaveURL(/after=/);
  await expect(page.locator('.entry-item')).toHaveCount(50);
  await expectAccessible(page, info);
});

test('sources list each organisation; a wrong-patient upload is refused clearly', async ({ page }, info) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sources' }).click();
  await ready(page, info);
  await expect(page.getByRole('heading', { name: 'CAPE COD HOSPITAL INC' })).toBeVisible();
  await expectAccessible(page, info);
  await page.getByLabel('File', { exact: true }).setInputFiles('../../shared/fixtures/multiprovider/ray/bad-wrong-patient.json');
  await page.getByRole('button', { name: 'Add file' }).click();
  await expect(page.locator('#upload-result')).toContainText('File not added');
  await expect(page.locator('#upload-result')).toContainText('999 636 3430');
});

test('a file without an NHS Number waits until the patient confirms it', async ({ page }, info) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sources' }).click();
  await ready(page, info);
  await page.getByLabel('File', { exact: true }).setInputFiles('fixtures/diary-without-nhs-number.json');
  // Nobody says what "My diary" is yet: that can wait until it is confirmed.
  await page.locator('#source_kind').selectOption('');
  await page.getByLabel('Organisation name (optional)').fill(`My diary (${info.project.name})`);
  await page.getByRole('button', { name: 'Add file' }).click();
  await expect(page.locator('#upload-result')).toContainText('File waiting for you to check');
  const held = page.getByRole('region', { name: 'Files waiting for you to check' }).or(page.locator('section', { has: page.getByRole('heading', { name: 'Files waiting for you to check' }) }));
  await expect(held.first()).toContainText('Ray Lindgren');
  await expect(held.first()).toContainText('22 Jun 1995');
  await expectAccessible(page, info);
  // Confirmed with no kind for an organisation new to the record: refused,
  // and the file keeps waiting.
  await held.first().getByRole('button', { name: 'This is me: add it to my record' }).first().click();
  await expect(page.locator('#error-summary')).toContainText('say what kind of organisation it is');
  await expect(page.getByRole('heading', { name: 'Files waiting for you to check' })).toBeVisible();
  await held.first().getByLabel('Where it comes from').first().selectOption('patient');
  await held.first().getByRole('button', { name: 'This is me: add it to my record' }).first().click();
  await expect(page.getByTestId('done-notice')).toHaveText('The file has been added to your record.');
  await expect(page.getByRole('heading', { name: 'Files waiting for you to check' })).toHaveCount(0);
  await page.goto('/timeline?q=hay+fever');
  await expect(page.locator('.entry-item').first()).toContainText('Hay fever (my diary)');
});

test('a chart of two lines tells them apart without colour', async ({ page }, info) => {
  await page.goto('/results');
  await ready(page, info);
  const bp = page.getByTestId('trend-chart').filter({ has: page.getByTestId('legend-line') }).first();
  await expect(bp.getByTestId('legend-line')).toHaveText(['Systolic (solid line, round dots)', 'Diastolic (dashed line, square dots)']);
  // In the drawing itself: one line dashed, its readings squares.
  await expect(bp.locator('svg[role="img"] polyline[stroke-dasharray]')).toHaveCount(1);
  await expect(bp.locator('svg[role="img"] polyline:not([stroke-dasharray])')).toHaveCount(1);
  expect(await bp.locator('svg[role="img"] rect[width="7"]').count()).toBeGreaterThan(0);
});

test('works at 320 pixels wide', async ({ page }) => {
  await page.setViewportSize({ width: 320, height: 640 });
  for (const path of ['/', '/timeline', '/results', '/sources']) {
    await page.goto(path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
  }
});
