import { test, expect, Page, TestInfo } from '@playwright/test';
import { ready, signUpPatient } from './helpers';

// Connecting a provider's FHIR API (SMART on FHIR standalone launch) against
// a real FHIR server (npm @medplum/fhir-router, in memory) and a real
// authorization server (npm oidc-provider), both started by Playwright from
// end2end/smart/fhir-server.mjs.

const fhir = `http://127.0.0.1:${process.env.KITH_E2E_SMART_FHIR_PORT ?? '3193'}`;
const provider = 'Riverside Community Health';
// The FHIR server holds records for these NHS Numbers (playwright.config.ts).
const theirs: Record<string, string> = { js: '4000000004', 'no-js': '4000000012' };
const nobodysHere = '4000000020';
// Kith records that the FHIR server does not hold.
const unmatched: Record<string, string> = { js: '4000000047', 'no-js': '4000000055' };

async function setMode(page: Page, mode: string) {
  expect((await page.request.post(`${fhir}/__test/mode?m=${mode}`)).status()).toBe(204);
}

test.afterEach(async ({ page }) => {
  await setMode(page, 'normal');
});

/** From the Sources page, through the provider's sign-in and consent, and back. */
async function connectAs(page: Page, info: TestInfo, login: string) {
  await page.goto('/sources');
  await ready(page, info);
  await page.getByRole('link', { name: `Connect ${provider}`, exact: true }).click();
  await expect(page).toHaveURL(/127\.0\.0\.1:3192\/interaction\//);
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(/\/sources/);
}

test('connect a provider, see its entries, refresh after a change, and lose nothing when access is revoked', async ({ page }, info) => {
  test.setTimeout(120_000);
  const nhs = theirs[info.project.name];
  await signUpPatient(page, info, 'Connie Nect', nhs);
  await connectAs(page, info, `patient-${nhs}`);
  const notice = page.getByTestId('connections-notice');
  await expect(notice).toContainText(`${provider} is connected. Updated from ${provider}:`);
  await expect(notice).toContainText('0 changed, 0 unchanged');
  const connection = page.getByTestId('connection');
  await expect(connection.getByTestId('connection-status')).toHaveText('Connected: updates itself');
  await expect(connection.getByTestId('connection-summary')).toContainText('new');

  // What came is in the record, from that organisation.
  await page.goto('/timeline');
  await expect(page.getByText('Medication review due').first()).toBeVisible();

  // The provider changes one resource: the next pull makes one new version.
  expect((await page.request.post(`${fhir}/__test/change?nhs=${nhs}`)).status()).toBe(204);
  await page.goto('/sources');
  await ready(page, info);
  await page.getByRole('button', { name: `Update from ${provider} now` }).click();
  await expect(page.getByTestId('connections-notice')).toContainText('0 new, 1 changed');

  // Nothing changed since: nothing new.
  await page.getByRole('button', { name: `Update from ${provider} now` }).click();
  await expect(page.getByTestId('connections-notice')).toContainText('0 new, 0 changed');

  // A page that fails half way: nothing is imported, and it says so. (The
  // change below would otherwise show as one changed resource.)
  expect((await page.request.post(`${fhir}/__test/change?nhs=${nhs}`)).status()).toBe(204);
  await setMode(page, 'page-fails');
  await page.getByRole('button', { name: `Update from ${provider} now` }).click();
  await expect(page.getByTestId('connections-notice')).toContainText('could not be reached just now');
  await expect(connection.getByTestId('connection-error')).toContainText('could not be reached just now');
  // The provider slowing Kith down: it waits and carries on, and the change
  // the failed pull left behind arrives now, whole.
  await setMode(page, 'rate-limit');
  await page.getByRole('button', { name: `Update from ${provider} now` }).click();
  await expect(page.getByTestId('connections-notice')).toContainText('0 new, 1 changed');
  await setMode(page, 'normal');

  // Access revoked at the provider: a clear error, and nothing already imported is lost.
  expect((await page.request.post(`${fhir}/__test/revoke`)).status()).toBe(204);
  await page.getByRole('button', { name: `Update from ${provider} now` }).click();
  await expect(page.getByTestId('connections-notice')).toContainText('no longer accepts Kith\'s access. Connect it again');
  await expect(connection.getByTestId('connection-status')).toHaveText('Needs you to connect again');
  await expect(page.getByRole('link', { name: `Connect ${provider} again` })).toBeVisible();
  await page.goto('/timeline');
  await expect(page.getByText('Medication review due').first()).toBeVisible();

  // Disconnecting deletes the access; the entries stay.
  await page.goto('/sources');
  await ready(page, info);
  await page.getByRole('button', { name: `Disconnect ${provider}` }).click();
  await expect(page.getByTestId('connections-notice')).toContainText('Disconnected');
  await expect(connection.getByTestId('connection-status')).toHaveText('Disconnected: Kith holds no access to it');
  await page.goto('/timeline');
  await expect(page.getByText('Medication review due').first()).toBeVisible();
});

test('a provider record for another NHS Number is refused whole and not kept connected', async ({ page }, info) => {
  await signUpPatient(page, info, 'Wren Ong', unmatched[info.project.name]);
  await connectAs(page, info, `patient-${nobodysHere}`);
  await expect(page.getByTestId('connections-notice')).toContainText(`${provider} was not connected`);
  await expect(page.getByTestId('connections-notice')).toContainText(nobodysHere.slice(0, 3));
  await expect(page.getByTestId('connection-status')).toHaveText('Disconnected: Kith holds no access to it');
  await page.goto('/timeline');
  await expect(page.getByText('Medication review due')).toHaveCount(0);
});
