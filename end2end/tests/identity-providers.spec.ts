import { test, expect, Page, TestInfo, Browser } from '@playwright/test';
import { ready, freshPage, runKith, signIn, signUp, expectAccessible, uniqueEmail } from './helpers';

// Signing in through real OpenID Connect providers (end2end/oidc/providers.mjs:
// npm oidc-provider on loopback): NHS login style for patients (private_key_jwt,
// nhs_number with identity_proofing_level), and a staff provider.

const provider = `http://127.0.0.1:${process.env.KITH_E2E_OIDC_PORT ?? '3190'}`;
// One NHS Number per project: each project signs up its own people.
const nhsNumbers: Record<string, { p9: string; p5: string }> = {
  js: { p9: '9000000106', p5: '9876543105' },
  'no-js': { p9: '9111111100', p5: '9434765870' },
};

async function setMode(page: Page, mode: string) {
  const r = await page.request.post(`${provider}/__test/mode?m=${mode}`);
  expect(r.status()).toBe(204);
}

/** Tells the provider what it knows about a login id; returns the id. */
async function person(page: Page, info: TestInfo, who: string, claims: Record<string, unknown>): Promise<string> {
  const id = `${who}-${info.project.name}-${Date.now()}`;
  const r = await page.request.post(`${provider}/__test/accounts`, { data: { id, claims: { email_verified: true, ...claims } } });
  expect(r.status()).toBe(204);
  return id;
}

/** Clicks "Sign in with {name}" and signs in at the provider's own page. */
async function viaProvider(page: Page, info: TestInfo, button: string, login: string) {
  await page.goto('/sign-in');
  await ready(page, info);
  await page.getByRole('link', { name: button }).click();
  await expect(page).toHaveURL(/127\.0\.0\.1:319\d\/interaction\//);
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  // The provider asks for consent the first time in each browser.
  await page.getByRole('button', { name: 'Continue' }).click();
}

function signInFailures(): string {
  return runKith(['audit', 'sign-in-failures', '--limit', '50']);
}

test.afterEach(async ({ page }) => {
  await setMode(page, 'normal');
});

test('NHS login: the first sign-in makes the account on the proved NHS Number\'s record; the next finds it', async ({ page, browser }, info) => {
  const nhs = nhsNumbers[info.project.name].p9;
  const id = await person(page, info, 'olive', {
    email: uniqueEmail(info, 'olive'), name: 'Olive Brown', birthdate: '1950-01-02', nhs_number: nhs, identity_proofing_level: 'P9',
  });
  await viaProvider(page, info, 'Sign in with NHS login', id);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Olive Brown');
  await expect(page.getByTestId('nhs-number')).toHaveText(`${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)}`);

  await page.goto('/account');
  await ready(page, info);
  const methods = page.getByTestId('sign-in-methods');
  await expect(methods).toContainText('NHS login');
  await expect(methods).toContainText('your only way to sign in');
  // No password to change: it can be added instead (below).
  await expect(page.getByRole('heading', { name: 'Change your password' })).toHaveCount(0);
  await expect(page.getByTestId('sessions')).toContainText('NHS login');
  await expectAccessible(page, info);

  // Another browser, the same person: the same account, now two sessions.
  const other = await freshPage(browser, info);
  await viaProvider(other, info, 'Sign in with NHS login', id);
  await expect(other.getByRole('heading', { level: 1 })).toHaveText('Hello, Olive Brown');
  await page.reload();
  await expect(page.getByTestId('sessions').locator('tbody tr')).toHaveCount(2);
  await expect(page.getByTestId('sign-in-methods').locator('li')).toHaveCount(1);

  // A password can be added to an account made through the provider.
  await page.getByText('Add a password').click();
  await page.getByLabel('Password to add').fill('violet canal drum');
  await page.getByLabel('The same password again').fill('violet canal drum');
  await page.getByRole('button', { name: 'Add this password' }).click();
  await expect(page.getByTestId('sign-in-methods').locator('li')).toHaveCount(2);
  await expect(page.getByTestId('sign-in-methods')).toContainText('Password');

  // Sign out everywhere from the second browser ends the first one too.
  await other.goto('/account');
  await ready(other, info);
  await other.getByRole('button', { name: 'Sign out everywhere' }).click();
  await expect(other.getByRole('status')).toContainText('signed out on every device');
  await page.goto('/account');
  await expect(page).toHaveURL(/\/sign-in/);
});

test('an NHS Number below the required proofing level attaches no record', async ({ page }, info) => {
  const id = await person(page, info, 'pat', {
    email: uniqueEmail(info, 'pat'), name: 'Pat Low', birthdate: '1960-05-05', nhs_number: nhsNumbers[info.project.name].p5, identity_proofing_level: 'P5',
  });
  await viaProvider(page, info, 'Sign in with NHS login', id);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Pat Low');
  await expect(page.getByText('Your record has not been set up yet')).toBeVisible();
});

test('an existing account is linked only after its password, and a method can be removed but not the last', async ({ page, browser }, info) => {
  const email = await signUp(page, info, 'Nina Link', 'A patient, setting up my own record');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  const id = await person(page, info, 'nina', { email, name: 'Nina Link' });
  await viaProvider(page, info, 'Sign in with NHS login', id);
  await expect(page.getByTestId('sign-in-notice')).toContainText(`You already have a Kith account with ${email}`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
  // Proving the account: the password, then NHS login is linked.
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill('copper kettle hills');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('account-notice')).toContainText('NHS login is linked');
  const methods = page.getByTestId('sign-in-methods');
  await expect(methods.locator('li')).toHaveCount(2);

  // Now NHS login signs in to the same account.
  const other = await freshPage(browser, info);
  await viaProvider(other, info, 'Sign in with NHS login', id);
  await expect(other.getByRole('heading', { level: 1 })).toHaveText('Hello, Nina Link');

  // Remove NHS login; the password is then the last and cannot be removed.
  await page.getByRole('button', { name: 'Remove NHS login' }).click();
  await expect(methods.locator('li')).toHaveCount(1);
  await expect(methods).toContainText('your only way to sign in');

  // Adding it back from the Account page. This browser is still signed in at
  // the provider, which may send it straight back without asking again.
  await page.getByRole('link', { name: 'Link NHS login' }).click();
  await page.waitForURL(/interaction|\/account/);
  if (page.url().includes('/interaction/')) {
    if (await page.locator('input[name=login]').count()) {
      await page.locator('input[name=login]').fill(id);
      await page.locator('input[name=password]').fill('any password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
    }
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await expect(page.getByTestId('account-notice')).toContainText('NHS login is linked');
  await expect(methods.locator('li')).toHaveCount(2);
});

test('a provider identity waiting for one account\'s password is not given to someone else signing in', async ({ page }, info) => {
  const una = await signUp(page, info, 'Una Owner', 'A patient, setting up my own record');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  const otto = await signUp(page, info, 'Otto Other', 'A patient, setting up my own record');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  const id = await person(page, info, 'una', { email: una, name: 'Una Owner' });
  await viaProvider(page, info, 'Sign in with NHS login', id);
  await expect(page.getByTestId('sign-in-notice')).toContainText(`You already have a Kith account with ${una}`);
  // Someone else signs in on this browser: nothing is linked to their account.
  await page.getByLabel('Email address').fill(otto);
  await page.getByLabel('Password').fill('copper kettle hills');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Otto Other');
  await page.goto('/account');
  await ready(page, info);
  await expect(page.getByTestId('sign-in-methods').locator('li')).toHaveCount(1);
  await expect(page.getByTestId('sign-in-methods')).not.toContainText('NHS login');
});

test('the staff provider signs in a clinician with the organisation from its claim', async ({ page }, info) => {
  const id = await person(page, info, 'drlee', { email: uniqueEmail(info, 'drlee'), name: 'Dr Lee Ward', organisation: 'Hilltop Hospital' });
  await viaProvider(page, info, 'Staff: sign in with Hilltop Hospital', id);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Dr Lee Ward');
  await expect(page.getByText('Records that patients share with you will appear here.')).toBeVisible();
  // The staff provider vouches for who they are: emergency access is open to them.
  await expect(page.getByRole('button', { name: 'Open the record in an emergency' })).toBeVisible();
  await page.goto('/account');
  await expect(page.locator('dl')).toContainText('Clinician');
  // A staff account cannot link the patients' provider.
  await expect(page.getByRole('link', { name: 'Link NHS login' })).toHaveCount(0);
});

for (const [mode, why] of [
  ['other-key', 'a token signed by a second provider instance with its own key'],
  ['other-issuer', 'a token naming another issuer'],
  ['tamper', 'a tampered ID token'],
  ['expired', 'an expired ID token'],
] as const) {
  test(`refused: ${why}; no account, the attempt logged`, async ({ page }, info) => {
    const email = uniqueEmail(info, `mallory${mode.replace('-', '')}`);
    const id = await person(page, info, 'mallory', { email, name: 'Mallory', nhs_number: nhsNumbers[info.project.name].p9, identity_proofing_level: 'P9' });
    await setMode(page, mode);
    await viaProvider(page, info, 'Sign in with NHS login', id);
    await expect(page.getByTestId('sign-in-notice')).toContainText('could not be checked, so you have not been signed in');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
    await page.goto('/account');
    await expect(page).toHaveURL(/\/sign-in/);
    expect(signInFailures()).toContain('refused');
    // No account was made: the email is still free to sign up with.
    await setMode(page, 'normal');
    await page.goto('/sign-up');
    await ready(page, info);
    await page.getByLabel('Full name').fill('Mallory');
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Create a password').fill('copper kettle hills');
    await page.getByLabel('A patient, setting up my own record').check();
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hello, Mallory');
  });
}

test('refused: the provider down at the token exchange, and a forged state', async ({ page }, info) => {
  const id = await person(page, info, 'dana', { email: uniqueEmail(info, 'dana'), name: 'Dana Down' });
  // The provider goes down between the person's sign-in there and Kith's code exchange.
  await setMode(page, 'token-down');
  await viaProvider(page, info, 'Sign in with NHS login', id);
  await expect(page.getByTestId('sign-in-notice')).toContainText('NHS login could not be reached just now');
  await setMode(page, 'normal');
  await page.goto('/account');
  await expect(page).toHaveURL(/\/sign-in/);

  // A callback this browser did not start.
  await page.goto('/auth/oidc/callback?code=stolen&state=forged');
  await expect(page.getByTestId('sign-in-notice')).toContainText('was not started here');
  await page.goto('/account');
  await expect(page).toHaveURL(/\/sign-in/);
  const failures = signInFailures();
  expect(failures).toContain('unavailable');
  expect(failures).toContain('state missing');
});
