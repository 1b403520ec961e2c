import { expect, test } from '@playwright/test';
import { changePassword, demoPatient, expectAccessible, ready, signIn, signUp, uniqueEmail } from './helpers';

test('the demo patient signs in and sees their home page', async ({ page }, info) => {
  await signIn(page, info, demoPatient.email, demoPatient.password);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(`Hello, ${demoPatient.name}`);
  await expect(page.getByTestId('nhs-number')).toHaveText('943 476 5919');
  await expect(page.getByTestId('birth-date')).toHaveText('27 Mar 1948');
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await expectAccessible(page, info);
});

test('sign up, sign out, sign in again', async ({ page }, info) => {
  const email = uniqueEmail(info, 'newpatient');
  await page.goto('/sign-up');
  await ready(page, info);
  await expectAccessible(page, info);
  await page.getByLabel('Full name').fill('Nia Evans');
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Create a password').fill('copper kettle hills');
  await page.getByLabel('A patient, setting up my own record').check();
  await page.getByRole('button', { name: 'Create account' }).click();

  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Nia Evans');
  await expect(page.getByText('Signed in as')).toContainText('Nia Evans');

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  await expect(page.getByRole('status')).toHaveText('You have signed out.');
  // Signed out means signed out: the home page sends us back to sign in.
  await page.goto('/');
  await expect(page).toHaveURL(/\/sign-in/);

  await signIn(page, info, email, 'copper kettle hills');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Nia Evans');
  await expectAccessible(page, info);
});

test('a wrong password is refused with a clear message and the email kept', async ({ page }, info) => {
  await signIn(page, info, demoPatient.email, 'not my password');
  await expect(page.getByRole('alert')).toContainText('The email address or password is not right');
  await expect(page.getByLabel('Email address')).toHaveValue(demoPatient.email);
  await expect(page.getByLabel('Password')).toHaveValue('');
  await expectAccessible(page, info);
});

test('sign-up errors are tied to their fields', async ({ page }, info) => {
  await page.goto('/sign-up');
  await ready(page, info);
  await page.getByLabel('Full name').fill('Tom Price');
  await page.getByLabel('Email address').fill(uniqueEmail(info, 'tom'));
  await page.getByLabel('Create a password').fill('short');
  await page.getByLabel('NHS Number').fill('943 476 5918');
  await page.getByRole('button', { name: 'Create account' }).click();

  const password = page.getByLabel('Create a password');
  await expect(password).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#password-error')).toContainText('at least 10 characters');
  await expect(page.locator('#nhs_number-error')).toContainText('check digit');
  await expect(page.getByRole('alert')).toContainText('There are');
  // What was typed survives, apart from the password.
  await expect(page.getByLabel('Full name')).toHaveValue('Tom Price');
  await expectAccessible(page, info);
});

test('the account page changes the password', async ({ page }, info) => {
  const email = uniqueEmail(info, 'changer');
  await page.goto('/sign-up');
  await ready(page, info);
  await page.getByLabel('Full name').fill('Sam Okafor');
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Create a password').fill('violet canal drum');
  await page.getByLabel('A clinician or care professional').check();
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Sam Okafor');

  await page.getByRole('link', { name: 'Account' }).click();
  await ready(page, info);
  await expectAccessible(page, info);
  await changePassword(page, info, 'violet canal drum', 'amber window fjord');

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await signIn(page, info, email, 'amber window fjord');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Sam Okafor');
});

test('with JavaScript, forms submit without a full page load', async ({ page }, info) => {
  test.skip(info.project.name !== 'js', 'hydration only exists with JavaScript');
  const documents: string[] = [];
  page.on('request', (r) => { if (r.resourceType() === 'document') documents.push(r.url()); });
  await signIn(page, info, demoPatient.email, 'not my password');
  await expect(page.getByRole('alert')).toContainText('not right');
  expect(documents.filter((u) => u.includes('/api/'))).toEqual([]);
});

/** The code an authenticator app shows for a base32 secret, `ahead` steps from now. */
function totp(secret: string, ahead = 0): string {
  const { createHmac } = require('node:crypto');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const bytes = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const step = Math.floor(Date.now() / 1000 / 30) + ahead;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', bytes).update(msg).digest();
  const o = h[19] & 0x0f;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

test('two-step verification: set up with an authenticator app, then sign in with a code', async ({ page }, info) => {
  test.setTimeout(90_000);
  const email = await signUp(page, info, 'Tessa Two', 'A family carer, helping someone I care for');

  await page.goto('/account');
  await ready(page, info);
  await page.getByRole('button', { name: 'Set up two-step verification' }).click();
  const secret = (await page.getByTestId('two-step-secret').textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await expectAccessible(page, info);
  await page.getByLabel('Code from the app').fill(totp(secret));
  await page.getByRole('button', { name: 'Switch on two-step verification' }).click();
  await expect(page.getByTestId('two-step-status')).toContainText('Two-step verification is on. 10 recovery codes left.');
  const codes = await page.getByTestId('recovery-codes').locator('li').allTextContents();
  expect(codes).toHaveLength(10);

  // Signing in now asks for a code after the password.
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await signIn(page, info, email, 'copper kettle hills');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Enter your code');
  await ready(page, info);
  await page.getByLabel('Code').fill('000000');
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('alert')).toContainText('not right');
  // The next step's code (the current one was spent switching it on).
  await page.getByLabel('Code').fill(totp(secret, 1));
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Tessa Two');

  // A recovery code works too, once.
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await signIn(page, info, email, 'copper kettle hills');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Enter your code');
  await ready(page, info);
  await page.getByLabel('Code').fill(codes[0]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Tessa Two');
});
