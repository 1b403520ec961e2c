import { expect, Page, test, TestInfo } from '@playwright/test';
import { acceptInvitation, expectAccessible, freshPage, newInvitationPath, ready, signIn, signUp } from './helpers';

// Ray's record (from the shared multiprovider fixtures): the patient, a family
// carer acting for him and a clinician who may contribute write the care plan
// together, each in their own browser.
const ray = { email: 'ray@example.com', password: 'kettle orange stairs' };

/** Shares Ray's record; returns the invitation to hand over. */
async function share(page: Page, email: string, carer: boolean): Promise<string> {
  await page.goto('/sharing');
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'Share with a person' }) });
  await form.getByLabel('Their email address').fill(email);
  if (carer) {
    await form.getByLabel(/A family carer/).check();
    await form.getByLabel(/Act for you/).check();
  } else {
    await form.getByLabel('A clinician or care professional').check();
    await form.getByLabel('Comment on entries').check();
    await form.getByLabel('Add to your record and care plan').check();
  }
  await form.getByRole('button', { name: 'Share' }).click();
  const invitation = await newInvitationPath(page);
  await expect(page.getByTestId('grant').filter({ hasText: email })).toBeVisible();
  return invitation;
}

/** Accepts Ray's invitation and goes to his care plan. */
async function openRaysPlan(page: Page, info: TestInfo, invitation: string) {
  await acceptInvitation(page, info, invitation);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText("Ray Lindgren's record");
  await page.goto('/care-plan');
  await ready(page, info);
}

async function add(page: Page, section: string, title: string, text: string) {
  const s = page.getByTestId(`section-${section}`);
  await s.getByText(`Add to ${title}`).click();
  await s.getByRole('textbox').first().fill(text);
  await s.getByRole('button', { name: 'Add', exact: true }).click();
}

/** Sees `text` in `section`: at once with JavaScript (live), after a reload without. */
async function sees(page: Page, info: TestInfo, section: string, text: string) {
  const item = page.getByTestId(`section-${section}`).getByTestId('plan-item').filter({ hasText: text });
  if (info.project.name === 'js') {
    await expect(item).toBeVisible({ timeout: 2_000 });
  } else {
    await page.reload();
    await expect(item).toBeVisible();
  }
}

test('patient, carer and clinician write the care plan together and see each other\'s changes', async ({ page, browser }, info) => {
  test.setTimeout(150_000);
  const tag = info.project.name;
  const carer = await freshPage(browser, info);
  const carerEmail = await signUp(carer, info, `Sam Carer ${tag}`, 'A family carer, helping someone I care for');
  const dr = await freshPage(browser, info);
  const drEmail = await signUp(dr, info, `Dr Plan ${tag}`, 'A clinician or care professional', 'Leeds Community Healthcare');

  await signIn(page, info, ray.email, ray.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello');
  const carerInvitation = await share(page, carerEmail, true);
  const drInvitation = await share(page, drEmail, false);

  await page.goto('/care-plan');
  await ready(page, info);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Care plan');
  await openRaysPlan(carer, info, carerInvitation);
  await openRaysPlan(dr, info, drInvitation);
  await expectAccessible(page, info);

  // Each adds to the plan; the other two see it within 2 seconds.
  await add(page, 'about-me', 'About me', `I am Ray; I like early walks (${tag})`);
  await sees(carer, info, 'about-me', `I like early walks (${tag})`);
  await sees(dr, info, 'about-me', `I like early walks (${tag})`);

  await add(carer, 'needs', 'My needs', `Help with shopping on Fridays (${tag})`);
  await sees(page, info, 'needs', `Help with shopping on Fridays (${tag})`);
  await sees(dr, info, 'needs', `Help with shopping on Fridays (${tag})`);
  await expect(page.getByTestId('section-needs').getByTestId('plan-item').filter({ hasText: `(${tag})` })).toContainText(`Sam Carer ${tag} (carer) for Ray Lindgren`);

  await add(dr, 'contingency', 'Contingency and crisis plan', `If chest pain, call 999 (${tag})`);
  await sees(page, info, 'contingency', `If chest pain, call 999 (${tag})`);
  await sees(carer, info, 'contingency', `If chest pain, call 999 (${tag})`);
  await expect(page.getByTestId('section-contingency').getByTestId('plan-item').filter({ hasText: `(${tag})` })).toContainText('Leeds Community Healthcare');

  // The crisis plan is on the summary.
  await page.goto('/');
  await expect(page.getByTestId('crisis-plan')).toContainText(`If chest pain, call 999 (${tag})`);

  // Comments on an entry appear for the others too.
  await page.goto('/timeline');
  await ready(page, info);
  await page.locator('.entry-item a').first().click();
  await ready(page, info);
  const entryPath = new URL(page.url()).pathname;
  await dr.goto(entryPath);
  await ready(dr, info);
  await page.getByLabel('Add a comment').fill(`Is this still right? (${tag})`);
  await page.getByRole('button', { name: 'Add comment' }).click();
  const comment = dr.getByTestId('comment').filter({ hasText: `Is this still right? (${tag})` });
  if (tag === 'js') {
    await expect(comment).toBeVisible({ timeout: 2_000 });
  } else {
    await dr.reload();
    await expect(comment).toBeVisible();
  }
  await expect(comment).toContainText('Ray Lindgren (patient)');
  await expectAccessible(dr, info);

  // On paper: no navigation or forms.
  await page.goto('/care-plan');
  await page.emulateMedia({ media: 'print' });
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeHidden();
  await expect(page.getByRole('button', { name: 'Mark as reviewed today' })).toBeHidden();
  await expect(page.getByTestId('section-contingency')).toBeVisible();
  await page.emulateMedia({ media: 'screen' });

  // The plan as FHIR: a CarePlan and its Goals that validate as R4.
  const fhir = await page.request.get('/care-plan/export.fhir.json');
  expect(fhir.status()).toBe(200);
  const bundle = await fhir.json();
  expect(bundle.entry[0].resource.resourceType).toBe('CarePlan');
  const { writeFileSync, mkdtempSync } = require('node:fs');
  const { join } = require('node:path');
  const { tmpdir } = require('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'kith-careplan-')), 'care-plan.json');
  writeFileSync(file, JSON.stringify(bundle));
  const out = require('node:child_process').execFileSync('fhirkit', ['validate', file], { encoding: 'utf8' });
  expect(out).not.toContain('error');

  await carer.context().close();
  await dr.context().close();
});

test('a change made while someone is writing waits for them: their text is kept and they choose when to see it', async ({ page, browser }, info) => {
  test.skip(info.project.name !== 'js', 'live updates need JavaScript; without it changes show on reload');
  test.setTimeout(90_000);
  const tag = `${info.project.name}-${Date.now()}`;
  const other = await freshPage(browser, info);
  for (const p of [page, other]) {
    await signIn(p, info, ray.email, ray.password);
    await expect(p.getByRole('heading', { level: 1 })).toContainText('Hello');
    await p.goto('/care-plan');
    await ready(p, info);
  }
  // The reader is half way through writing a need.
  const needs = page.getByTestId('section-needs');
  await needs.getByText('Add to My needs').click();
  const draft = `A lift to the day centre on Tuesdays (${tag})`;
  await needs.getByRole('textbox').first().fill(draft);
  await add(other, 'about-me', 'About me', `I used to drive buses (${tag})`);

  // They are told, and nothing they typed has gone.
  await expect(page.getByTestId('live-pending')).toBeVisible({ timeout: 3_000 });
  await expect(needs.getByRole('textbox').first()).toHaveValue(draft);
  await expect(page.getByTestId('section-about-me').getByText(`I used to drive buses (${tag})`)).toHaveCount(0);
  // Sending what they wrote shows both, and the message goes.
  await needs.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(needs.getByTestId('plan-item').filter({ hasText: draft })).toBeVisible();
  await expect(page.getByTestId('section-about-me').getByTestId('plan-item').filter({ hasText: `I used to drive buses (${tag})` })).toBeVisible();
  await expect(page.getByTestId('live-pending')).toBeHidden();

  // With nothing being written, a change shows at once.
  await add(other, 'strengths', 'My strengths', `Good with numbers (${tag})`);
  await expect(page.getByTestId('section-strengths').getByTestId('plan-item').filter({ hasText: `Good with numbers (${tag})` })).toBeVisible({ timeout: 3_000 });
  await expectAccessible(page, info);

  // A form opened to change an item, nothing typed yet, stays open too;
  // closing it shows what waited.
  const mine = page.getByTestId('section-needs').getByTestId('plan-item').filter({ hasText: draft });
  await mine.getByText('Change or remove').click();
  await expect(mine.getByRole('button', { name: 'Save the change' })).toBeVisible();
  await add(other, 'concerns', 'My concerns', `Stairs at the day centre (${tag})`);
  await expect(page.getByTestId('live-pending')).toBeVisible({ timeout: 3_000 });
  await expect(mine.getByRole('button', { name: 'Save the change' })).toBeVisible();
  await mine.getByText('Change or remove').click();
  const concern = page.getByTestId('section-concerns').getByTestId('plan-item').filter({ hasText: `Stairs at the day centre (${tag})` });
  await expect(concern).toBeVisible({ timeout: 3_000 });
  await expect(page.getByTestId('live-pending')).toBeHidden();
  await other.context().close();
});

test('a refused care plan item comes back as typed, with its error beside the field, with or without JavaScript', async ({ page }, info) => {
  test.setTimeout(60_000);
  await signIn(page, info, ray.email, ray.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello');
  await page.goto('/care-plan');
  await ready(page, info);
  const goals = page.getByTestId('section-goals');
  await goals.getByText('Add to Goals').click();
  const form = goals.locator('form:has(input[name="section"])');
  const long = `Walk to the park every day ${info.project.name} `.repeat(200);
  await form.getByRole('textbox').first().fill(long);
  await form.getByLabel('Target date').fill('2031-05-01');
  await form.getByRole('button', { name: 'Add', exact: true }).click();

  // The summary's link leads to the field, which holds what was typed.
  const summary = page.locator('#error-summary');
  await expect(summary).toContainText('Keep it to 5000 characters');
  await summary.getByRole('link', { name: /Keep it to 5000 characters/ }).click();
  const text = page.locator('#text');
  await expect(text).toHaveValue(long);
  await expect(text).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#text-error')).toContainText('Keep it to 5000 characters');
  await expect(form.getByLabel('Target date')).toHaveValue('2031-05-01');
  // Where there is no calendar, the field says how to write a date.
  await expect(form.getByLabel('Target date')).toHaveAccessibleDescription(/year-month-day/);
  await expectAccessible(page, info);
  // Shortened, it is added.
  await text.fill(`Walk to the park every day (${info.project.name})`);
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(goals.getByTestId('plan-item').filter({ hasText: `Walk to the park every day (${info.project.name})` }).first()).toBeVisible();
});

test('a refused comment comes back as typed, tied to its field, with or without JavaScript', async ({ page }, info) => {
  test.setTimeout(60_000);
  await signIn(page, info, ray.email, ray.password);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello');
  await page.goto('/timeline');
  await ready(page, info);
  await page.locator('.entry-item a').first().click();
  await ready(page, info);
  const long = `Checked with the pharmacist ${info.project.name} `.repeat(200);
  await page.getByLabel('Add a comment').fill(long);
  await page.getByRole('button', { name: 'Add comment' }).click();
  const summary = page.locator('#error-summary').first();
  await expect(summary).toContainText('Keep it to 5000 characters');
  await summary.getByRole('link', { name: /Keep it to 5000 characters/ }).click();
  const body = page.locator('#body');
  await expect(body).toHaveValue(long);
  await expect(body).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#comment-error')).toContainText('Keep it to 5000 characters');
  await expectAccessible(page, info);
  const short = `Checked with the pharmacist (${info.project.name}-${Date.now()})`;
  await body.fill(short);
  await page.getByRole('button', { name: 'Add comment' }).click();
  await expect(page.getByTestId('comment').filter({ hasText: short })).toBeVisible();
});
