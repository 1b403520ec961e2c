import { Browser, expect, Page, TestInfo } from '@playwright/test';
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

/** Creates an account through the sign-up page and returns its email. */
export async function signUp(page: Page, info: TestInfo, name: string, role: string, organisation = ''): Promise<string> {
  const email = uniqueEmail(info, name.toLowerCase().replace(/[^a-z]/g, ''));
  await page.goto('/sign-up');
  await ready(page, info);
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Create a password').fill('copper kettle hills');
  await page.getByLabel(role).check();
  if (organisation) await page.getByLabel('Organisation').fill(organisation);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Hello, ${name}`);
  return email;
}
