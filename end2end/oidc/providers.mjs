// Real OpenID Connect providers for Kith's browser tests: npm oidc-provider
// (panva, OpenID certified), on loopback.
//
//   http://127.0.0.1:$OIDC_PORT        the patients' provider ("NHS login"): Kith's
//                                      client authenticates with private_key_jwt, as
//                                      NHS login requires; claims include nhs_number
//                                      and identity_proofing_level.
//   http://127.0.0.1:$STAFF_OIDC_PORT  a staff provider (client secret), whose users
//                                      carry an `organisation` claim.
//
// Test-only controls on the patients' provider, under /__test/:
//   POST /__test/accounts  {id, claims}  what the provider says about a login id
//   POST /__test/mode?m=…                how it misbehaves for the next sign-ins:
//     normal        itself
//     other-key     a second provider instance with the same issuer but its own
//                   signing key answers (discovery and JWKS still the real one's)
//     other-issuer  a third instance, whose tokens name another issuer
//     tamper        the ID token in the token response has one character changed
//     expired       ID tokens live 1 s and the token response is held back 2 s
//     down          every connection is dropped
//     token-down    connections to the token endpoint are dropped (the provider
//                   fails between the person's sign-in there and Kith's exchange)
//
// The login page is oidc-provider's development one: any login id, any password.

import http from 'node:http';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

// oidc-provider's warnings about its development-only defaults are expected here.
const warn = console.warn;
console.warn = (...a) => { if (!String(a[0]).startsWith('oidc-provider WARNING')) warn(...a); };

const port = Number(process.env.OIDC_PORT ?? 3190);
const staffPort = Number(process.env.STAFF_OIDC_PORT ?? 3191);
const kithUrl = process.env.KITH_URL ?? 'http://127.0.0.1:3111';
const issuer = `http://127.0.0.1:${port}`;
const redirectUri = `${kithUrl}/auth/oidc/callback`;

// Kith's client key (test-only) for private_key_jwt: the provider knows its public half.
const kithKey = crypto.createPublicKey(readFileSync(new URL('./kith-client-key.pem', import.meta.url)));
const kithJwk = { ...kithKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS512' };

const accounts = new Map();
let mode = 'normal';

function signingKeys() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: crypto.randomUUID() }] };
}

function makeProvider(iss, { staff = false } = {}) {
  const client = staff
    ? { client_id: 'kith-staff', client_secret: 'staff-secret', redirect_uris: [redirectUri], token_endpoint_auth_method: 'client_secret_basic' }
    : { client_id: 'kith', redirect_uris: [redirectUri], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [kithJwk] } };
  const p = new Provider(iss, {
    clients: [{ ...client, grant_types: ['authorization_code'], response_types: ['code'] }],
    jwks: signingKeys(),
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'birthdate', 'organisation'],
      nhs_number: ['nhs_number', 'identity_proofing_level'],
    },
    scopes: ['openid', 'email', 'profile', 'nhs_number'],
    pkce: { required: () => true },
    // NHS login signs client assertions with RS512.
    enabledJWA: { clientAuthSigningAlgValues: ['RS256', 'RS512', 'PS256', 'ES256'] },
    ttl: { IdToken: () => (mode === 'expired' ? 1 : 3600) },
    async findAccount(ctx, id) {
      const claims = accounts.get(id) ?? { email: `${id}@example.com`, email_verified: true, name: id };
      return { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
  });
  p.proxy = true;
  return p;
}

const real = makeProvider(issuer);
const otherKey = makeProvider(issuer);
// Same address, another issuer name: tokens say "localhost", Kith expects "127.0.0.1".
const otherIssuer = makeProvider(`http://localhost:${port}`);
const staff = makeProvider(`http://127.0.0.1:${staffPort}`, { staff: true });

const handlers = { real: real.callback(), otherKey: otherKey.callback(), otherIssuer: otherIssuer.callback() };

function readBody(req) {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => resolve(body));
  });
}

// Changes one character in the middle of the ID token's signature: the token
// still parses, and only the signature check can catch it.
function tamper(text) {
  return text.replace(/"id_token":"([^"]+)"/, (_, jwt) => {
    const [h, p, sig] = jwt.split('.');
    const i = Math.floor(sig.length / 2);
    return `"id_token":"${h}.${p}.${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}"`;
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/__test/accounts' && req.method === 'POST') {
    const { id, claims } = JSON.parse(await readBody(req));
    accounts.set(id, claims);
    res.writeHead(204).end();
    return;
  }
  if (url.pathname === '/__test/mode' && req.method === 'POST') {
    mode = url.searchParams.get('m') ?? 'normal';
    res.writeHead(204).end();
    return;
  }
  if (mode === 'down' || (mode === 'token-down' && url.pathname === '/token')) {
    req.socket.destroy();
    return;
  }
  // Kith learns keys and endpoints from the real provider, whatever the mode.
  const published = url.pathname.startsWith('/.well-known/') || url.pathname === '/jwks';
  const handler = published ? handlers.real : mode === 'other-key' ? handlers.otherKey : mode === 'other-issuer' ? handlers.otherIssuer : handlers.real;
  if (url.pathname === '/token' && (mode === 'tamper' || mode === 'expired')) {
    const end = res.end.bind(res);
    res.end = (chunk, ...rest) => {
      const text = chunk ? chunk.toString() : chunk;
      if (mode === 'tamper') return end(tamper(text), ...rest);
      setTimeout(() => end(text, ...rest), 2000);
      return res;
    };
  }
  handler(req, res);
});

server.listen(port, '127.0.0.1', () => console.log(`OpenID Connect provider on ${issuer}`));
http.createServer(staff.callback()).listen(staffPort, '127.0.0.1', () => console.log(`staff provider on http://127.0.0.1:${staffPort}`));
