import { Browser, expect, Page, TestInfo } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const demoPatient = { email: 'margaret@demo.kith.example', password: 'kettle orange stairs', name: 'Margaret Jones' };

/** A unique email per test run and project, so runs never collide. */
export function uniqueEmail(info: TestInfo, who: string): string {
  return `${who}.${info.project.name}.${Date.now()}@example.com`;
}

/** With JavaScript, the app must have hydrated before we interact with it. */
export async function ready(page: Page, info: TestInfo) {
  if (info.project.name === 'js') {
    await page.waitForFunction(() => (window as any).__kith_hydrated === true, null, { timeout: 30_000 });
  }
}

export async function signIn(page: Page, info: TestInfo, email: string, password: string) {
  await page.goto('/sign-in');
  await ready(page, info);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Runs axe-core on the page and expects no WCAG 2.2 A/AA violations.
 *  Runs in the JavaScript project only (axe itself is a script); the page it
 *  checks is the same server-rendered HTML the no-JS project sees. */
export async function expectAccessible(page: Page, info: TestInfo) {
  if (info.project.name !== 'js') return;
  await page.addScriptTag({ content: axeSource });
  const results = await page.evaluate(async () => {
    const axe = (window as any).axe;
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => n.target.join(' ')) }));
  });
  expect(results, JSON.stringify(results, null, 2)).toEqual([]);
}

/** A second person's browser: a fresh context, JavaScript as in this project. */
export async function freshPage(browser: Browser, info: TestInfo): Promise<Page> {
  const ctx = await browser.newContext({ baseURL: info.project.use.baseURL, javaScriptEnabled: info.project.use.javaScriptEnabled });
  return ctx.newPage();
}

/** Creates an account through the sign-up page and returns its email; a
 *  patient's record is made on `patient`'s NHS Number when given. */
export async function signUp(
  page: Page,
  info: TestInfo,
  name: string,
  role: string,
  organisation = '',
  patient?: { nhs: string; birthDate: string },
): Promise<string> {
  const email = uniqueEmail(info, name.toLowerCase().replace(/[^a-z]/g, ''));
  await page.goto('/sign-up');
  await ready(page, info);
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Create a password').fill('copper kettle hills');
  await page.getByLabel(role).check();
  if (organisation) await page.getByLabel('Organisation').fill(organisation);
  if (patient) {
    await page.getByLabel('NHS Number').fill(patient.nhs);
    await page.getByLabel('Date of birth').fill(patient.birthDate);
  }
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Hello, ${name}`);
  return email;
}

/** Creates a patient's account on their NHS Number through the sign-up page; returns its email. */
export async function signUpPatient(page: Page, info: TestInfo, name: string, nhs: string, birthDate = '1980-02-03'): Promise<string> {
  return signUp(page, info, name, 'A patient, setting up my own record', '', { nhs, birthDate });
}

/** The address of the invitation the Sharing page has just shown (once),
 *  as a path on the server under test. */
export async function newInvitationPath(page: Page): Promise<string> {
  const url = await page.getByTestId('new-invitation').getByTestId('invitation-url').getAttribute('href');
  return new URL(url!).pathname;
}

/** On the Sharing page, the signed-in patient lets a family carer act for
 *  them; returns the invitation's path to hand over. */
export async function inviteCarerToActFor(page: Page, info: TestInfo, carerEmail: string): Promise<string> {
  await page.goto('/sharing');
  await ready(page, info);
  const share = page.locator('section', { has: page.getByRole('heading', { name: 'Share with a person' }) });
  await share.getByLabel('Their email address').fill(carerEmail);
  await share.getByLabel(/A family carer/).check();
  await share.getByLabel(/Act for you/).check();
  await share.getByRole('button', { name: 'Share' }).click();
  return newInvitationPath(page);
}

/** The signed-in person opens an invitation and accepts it: the record it
 *  shares is then on screen. */
export async function acceptInvitation(page: Page, info: TestInfo, path: string) {
  await page.goto(path);
  await ready(page, info);
  await page.getByRole('button', { name: /^Accept and open/ }).click();
  await expect(page.getByRole('banner').getByRole('region', { name: 'Whose record' })).toBeVisible();
}

/** Runs the `kith` command line built for these tests (the same database as
 *  the server, from the environment); throws if it exits non-zero. */
export function runKith(args: string[], input?: string): string {
  const root = `${__dirname}/../..`;
  return execFileSync(`${root}/${process.env.KITH_E2E_BIN ?? 'target/debug/kith'}`, args, { cwd: root, encoding: 'utf8', input, stdio: 'pipe' });
}

/** Changes the signed-in person's password on the Account page. */
export async function changePassword(page: Page, info: TestInfo, current: string, next: string) {
  await page.goto('/account');
  await ready(page, info);
  await page.getByLabel('Current password').fill(current);
  await page.getByLabel('New password', { exact: true }).fill(next);
  await page.getByLabel('New password again').fill(next);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('status')).toContainText('Your password has been changed');
}

/** On the Sharing page, makes a link for a clinician; returns its path (/l/...). */
export async function makeLink(page: Page, info: TestInfo, name: string, passcode = ''): Promise<string> {
  await page.goto('/sharing');
  await ready(page, info);
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'Make a link for a clinician' }) });
  await form.getByLabel('A name to recognise it by').fill(name);
  if (passcode) await form.getByLabel('Passcode (optional)').fill(passcode);
  await form.getByRole('button', { name: 'Make link' }).click();
  const url = await page.getByTestId('link-url').first().textContent();
  expect(url).toMatch(/\/l\/[0-9a-f]{64}$/);
  return new URL(url!).pathname;
}

/** Fills in a link's form as a viewer and asks to open the record. */
export async function fillLinkForm(page: Page, viewer: { passcode?: string; name: string; role: string; organisation: string }) {
  if (viewer.passcode !== undefined) await page.getByLabel('Passcode').fill(viewer.passcode);
  await page.getByLabel('Your name').fill(viewer.name);
  await page.getByLabel('Your role').fill(viewer.role);
  await page.getByLabel('Your organisation').fill(viewer.organisation);
  await page.getByRole('button', { name: 'Open the record' }).click();
}

/** Someone guessing, in a fresh browser: four wrong passcodes are refused, the fifth locks the link. */
export async function lockWithWrongPasscodes(browser: Browser, info: TestInfo, path: string) {
  const guesser = await freshPage(browser, info);
  await guesser.goto(path);
  await ready(guesser, info);
  for (let i = 0; i < 5; i++) {
    await fillLinkForm(guesser, { passcode: '0000', name: 'X', role: 'Y', organisation: 'Z' });
    // Wait for this attempt's own answer before the next one.
    if (i < 4) await expect(guesser.locator('#passcode-error')).toContainText(`${4 - i} tries left`);
  }
  await expect(guesser.getByRole('alert').first()).toContainText('locked');
  await guesser.goto(path);
  await expect(guesser.getByText('This link cannot be opened')).toBeVisible();
  await guesser.context().close();
}

/** The real SMTP server (end2end/mail/smtp-sink.mjs) this deployment's Kith
 *  sends to, and what it has been given. */
const sink = `http://127.0.0.1:${process.env.KITH_E2E_SMTP_HTTP_PORT ?? '3195'}`;
export type Mail = { to: string[]; from: string; subject: string; text: string };
export const CONFIRM_SUBJECT = 'Confirm your email address for Kith';

/** Every email sent to `address`, oldest first. */
export async function allMailTo(page: Page, address: string): Promise<Mail[]> {
  const r = await page.request.get(`${sink}/messages`);
  expect(r.ok()).toBeTruthy();
  return ((await r.json()) as Mail[]).filter((m) => m.to.includes(address.toLowerCase()));
}

/** The emails sent to `address` besides the links to confirm it (which
 *  every sign-up gets). */
export async function mailTo(page: Page, address: string): Promise<Mail[]> {
  return (await allMailTo(page, address)).filter((m) => m.subject !== CONFIRM_SUBJECT);
}

export async function subjects(page: Page, address: string): Promise<string[]> {
  return (await mailTo(page, address)).map((m) => m.subject);
}

/** The path of the newest link emailed to confirm `address`. */
export async function confirmationPath(page: Page, address: string): Promise<string> {
  let links: string[] = [];
  await expect
    .poll(async () => {
      links = (await allMailTo(page, address)).filter((m) => m.subject === CONFIRM_SUBJECT).map((m) => m.text.match(/https?:\/\/\S+\/confirm-email\/[0-9a-f]{64}/)![0]);
      return links.length;
    }, { timeout: 20_000 })
    .toBeGreaterThan(0);
  return new URL(links[links.length - 1]).pathname;
}

/** The signed-in person confirms their address with the link sign-up
 *  emailed them, as they would from their mailbox. */
export async function confirmEmail(page: Page, info: TestInfo, address: string) {
  await page.goto(await confirmationPath(page, address));
  await ready(page, info);
  await page.getByRole('button', { name: 'Confirm my email address' }).click();
  await expect(page.getByTestId('email-status')).toHaveText(`${address} is confirmed. Kith emails you there.`);
}
