import { defineConfig } from '@playwright/test';

// Kith's browser tests: Debian's Chromium driven by playwright-core (browser
// downloads cannot work here). Every test runs twice: with JavaScript (the
// hydrated app) and without it (plain HTML forms).
const port = process.env.KITH_E2E_PORT ?? '3111';
const baseURL = `http://127.0.0.1:${port}`;
const kith = process.env.KITH_E2E_BIN ?? 'target/debug/kith';
const ray = '../shared/fixtures/multiprovider/ray';
// Real OpenID Connect providers (end2end/oidc/providers.mjs) on loopback.
const oidcPort = process.env.KITH_E2E_OIDC_PORT ?? '3190';
const staffOidcPort = process.env.KITH_E2E_STAFF_OIDC_PORT ?? '3191';
// A provider's FHIR API and its authorization server (end2end/smart/fhir-server.mjs).
const smartAuthPort = process.env.KITH_E2E_SMART_AUTH_PORT ?? '3192';
const smartFhirPort = process.env.KITH_E2E_SMART_FHIR_PORT ?? '3193';
// Patients whose records the FHIR server holds: one per project, and one
// that no Kith record matches (for the wrong-patient test).
const smartNhsNumbers = '4000000004,4000000012,4000000020';
// A real SMTP server (end2end/mail/smtp-sink.mjs) that Kith sends patients' emails to.
const smtpPort = process.env.KITH_E2E_SMTP_PORT ?? '3194';
const smtpHttpPort = process.env.KITH_E2E_SMTP_HTTP_PORT ?? '3195';

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'js', use: { javaScriptEnabled: true } },
    { name: 'no-js', use: { javaScriptEnabled: false } },
  ],
  webServer: [{
    // A fresh database each run (the caller sets KITH_DATABASE_URL), with the demo people.
    // Ray's record from the shared multiprovider fixtures, imported by the CLI.
    command: [
      `${kith} demo`,
      `echo "kettle orange stairs" | ${kith} user add --email ray@example.com --name "Ray Lindgren" --role patient --nhs-number 9992649690 --birth-date 1995-06-22`,
      `${kith} import --nhs-number 9992649690 --source-kind gp ${ray}/01-*.json`,
      `${kith} import --nhs-number 9992649690 --source-kind hospital ${ray}/02-*.json`,
      `${kith} import --nhs-number 9992649690 --source-kind community ${ray}/03-*.json`,
      // Emergency access is off by default; this deployment turns it on to test it.
      `exec ${kith} serve --addr 127.0.0.1:${port} --public-url ${baseURL} --break-glass true`,
    ].join(' && '),
    cwd: '..',
    url: `${baseURL}/sign-in`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      ...process.env as Record<string, string>,
      // NHS login style: private_key_jwt with a test-only key, nhs_number at P9.
      KITH_OIDC_ISSUER: `http://127.0.0.1:${oidcPort}`,
      KITH_OIDC_CLIENT_ID: 'kith',
      KITH_OIDC_PRIVATE_KEY_FILE: 'end2end/oidc/kith-client-key.pem',
      KITH_OIDC_NAME: 'NHS login',
      KITH_STAFF_OIDC_ISSUER: `http://127.0.0.1:${staffOidcPort}`,
      KITH_STAFF_OIDC_CLIENT_ID: 'kith-staff',
      KITH_STAFF_OIDC_CLIENT_SECRET: 'staff-secret',
      KITH_STAFF_OIDC_NAME: 'Hilltop Hospital',
      KITH_SMART_NAME: 'Riverside Community Health',
      KITH_SMART_KIND: 'community',
      KITH_SMART_FHIR_BASE: `http://127.0.0.1:${smartFhirPort}/fhir`,
      KITH_SMART_CLIENT_ID: 'kith-smart',
      KITH_SMART_CLIENT_SECRET: 'smart-secret',
      // Unencrypted SMTP is for a relay on the same machine, as here.
      KITH_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      KITH_MAIL_FROM: 'Kith <kith@example.org>',
    },
  }, {
    command: 'node end2end/oidc/providers.mjs',
    cwd: '..',
    url: `http://127.0.0.1:${oidcPort}/.well-known/openid-configuration`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: { ...process.env as Record<string, string>, OIDC_PORT: oidcPort, STAFF_OIDC_PORT: staffOidcPort, KITH_URL: baseURL },
  }, {
    command: 'node end2end/smart/fhir-server.mjs',
    cwd: '..',
    url: `http://127.0.0.1:${smartFhirPort}/fhir/.well-known/smart-configuration`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: { ...process.env as Record<string, string>, SMART_AUTH_PORT: smartAuthPort, SMART_FHIR_PORT: smartFhirPort, SMART_NHS_NUMBERS: smartNhsNumbers, KITH_URL: baseURL },
  }, {
    command: 'node end2end/mail/smtp-sink.mjs',
    cwd: '..',
    url: `http://127.0.0.1:${smtpHttpPort}/messages`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: { ...process.env as Record<string, string>, KITH_E2E_SMTP_PORT: smtpPort, KITH_E2E_SMTP_HTTP_PORT: smtpHttpPort },
  }],
});
