/**
 * Key rotation as operators do it, one roll-out at a time: (1) the token-service signs with key A;
 * (2) key B is added and becomes the signer (JWT_PRIVATE_KEY = B then A; both published); (3) A is
 * removed. Tokens signed by A keep working until A is removed, and are refused after. Checked with
 * static keys (JWT_PUBLIC_KEYS) and with JWKS_URL pointing at the token-service. Plus an IdP
 * certificate rollover.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { buildTokenService, postAcs, ACS_URL, IDP_ISSUER, SP_ENTITY, type TokenFixture } from '../helpers/token-service.js';
import { newSigningKey } from '../helpers/tokens.js';
import { generateIdpKeys, type KeyPair } from '../../services/dev-idp/keys.js';
import { signSamlResponse } from '../../services/dev-idp/sign.js';
import type { App } from '../../services/shared/app-base.js';
import type { SigningKey } from '../../services/shared/jwt-keys.js';
import { ALICE, TINY_POLICY, ask, claimsOf, until } from './fixtures/fixtures.js';

const A = newSigningKey('ES256');
const B = newSigningKey('ES256');
const env = { ACCESS_LOG: 'false', RATE_LIMIT_MAX: '100000' };

/** A token-service replica signing with `keys[0]` and publishing all of them. */
function tokenService(t: Parameters<typeof buildTokenService>[0], databaseUrl: string, keys: SigningKey[], idp?: KeyPair) {
  return buildTokenService(t, { databaseUrl, env: { ...env, JWT_PRIVATE_KEY: keys.map((k) => k.privatePem).join('') }, jwtKey: keys[0]!, ...(idp ? { idp } : {}) });
}

async function issue(svc: TokenFixture): Promise<string> {
  const res = await postAcs(svc.app, (await svc.sign()).samlResponse);
  if (res.statusCode !== 200) throw new Error(`ACS ${res.statusCode}: ${res.body}`);
  return (res.json() as { access_token: string }).access_token;
}

const status = async (app: App, token: string) => (await ask(app, { token })).statusCode;

t.test('JWT_PUBLIC_KEYS: add B, sign with B, remove A', async (t) => {
  const db = await withDb(t);
  const authzWith = async (keys: SigningKey[]) => (await buildAuthz(t, { databaseUrl: db.url, keys, policy: TINY_POLICY, env })).app;

  const ts1 = await tokenService(t, db.url, [A]);
  const authz1 = await authzWith([A]);
  const tokA = await issue(ts1);
  t.equal(claimsOf(tokA).sub, ALICE);
  t.equal(await status(authz1, tokA), 200, 'step 1: A-signed token allowed');

  // Step 2: the authz roll-out goes first (it knows B before any B-signed token exists), then the signer.
  const authz2 = await authzWith([A, B]);
  const ts2 = await tokenService(t, db.url, [B, A]);
  const tokB = await issue(ts2);
  t.not(tokB.split('.')[0], tokA.split('.')[0], 'the new token names another key');
  t.equal(await status(authz2, tokA), 200, 'step 2: the A-signed token still works');
  t.equal(await status(authz2, tokB), 200, 'step 2: the B-signed token works');
  t.equal(await status(authz1, tokB), 401, 'a replica not yet rolled out refuses B (why authz goes first)');

  const jwks = (await ts2.app.inject('/.well-known/jwks.json')).json() as { keys: { kid: string }[] };
  t.same(jwks.keys.map((k) => k.kid).sort(), [A.kid, B.kid].sort(), 'during the rotation the JWKS publishes both');

  const authz3 = await authzWith([B]);
  const refused = await ask(authz3, { token: tokA });
  t.equal(refused.statusCode, 401, 'step 3: A removed: the A-signed token is refused');
  t.equal(refused.headers['x-auth-request-reason'], 'unknown_key');
  t.equal(await status(authz3, tokB), 200, 'step 3: the B-signed token works');
});

t.test('JWKS_URL pointing at the token-service: the same rotation reaches the authz without a restart', async (t) => {
  const db = await withDb(t);
  // The Kubernetes Service in front of the token-service: a fixed address whose replicas change.
  let current = await tokenService(t, db.url, [A]);
  const front = createServer((req, res) => {
    void current.app.inject({ method: 'GET', url: req.url ?? '/' }).then((r) => {
      res.writeHead(r.statusCode, { 'content-type': String(r.headers['content-type'] ?? 'application/json') });
      res.end(r.body);
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => front.close(() => r())));
  const jwksUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}/.well-known/jwks.json`;
  const refreshSeconds = 10;
  const { app: authz } = await buildAuthz(t, {
    databaseUrl: db.url,
    keys: [],
    policy: TINY_POLICY,
    env: { ...env, JWT_PUBLIC_KEYS: '', JWKS_URL: jwksUrl, JWKS_REFRESH_SECONDS: String(refreshSeconds), JWKS_MIN_REFRESH_SECONDS: '1' },
  });
  t.ok(authz.authz.keys.loaded, 'keys loaded from the JWKS at start');
  const tokA = await issue(current);
  t.equal(await status(authz, tokA), 200, 'step 1: A-signed token allowed');

  current = await tokenService(t, db.url, [B, A]);
  const tokB = await issue(current);
  // An unknown kid triggers an early refresh (at most once per JWKS_MIN_REFRESH_SECONDS).
  t.ok(await until(async () => (await status(authz, tokB)) === 200, 5000, 250), 'step 2: the B-signed token is allowed after an early refresh');
  t.equal(await status(authz, tokA), 200, 'step 2: the A-signed token still works');

  current = await tokenService(t, db.url, [B]);
  const removedAt = Date.now();
  const refusedInTime = await until(async () => (await status(authz, tokA)) === 401, (refreshSeconds + 3) * 1000, 200);
  t.ok(refusedInTime, `step 3: the A-signed token is refused ${Date.now() - removedAt} ms after A left the JWKS (refresh every ${refreshSeconds} s)`);
  t.equal((await ask(authz, { token: tokA })).headers['x-auth-request-reason'], 'unknown_key');
  t.equal(await status(authz, tokB), 200, 'step 3: the B-signed token works');
});

t.test('IdP certificate rollover: with both certificates configured, responses signed by either are accepted', async (t) => {
  const db = await withDb(t);
  const [oldIdp, newIdp, stranger] = await Promise.all([generateIdpKeys('old IdP'), generateIdpKeys('new IdP'), generateIdpKeys('stranger')]);
  const signedBy = async (idp: KeyPair) =>
    (await signSamlResponse({ idp, issuer: IDP_ISSUER, acsUrl: ACS_URL, audience: SP_ENTITY, nameId: ALICE, email: ALICE, groups: ['staff'] })).samlResponse;
  const both = await buildTokenService(t, { databaseUrl: db.url, idp: oldIdp, env: { ...env, SAML_IDP_CERT: oldIdp.cert + newIdp.cert } });
  t.equal((await postAcs(both.app, await signedBy(oldIdp))).statusCode, 200, 'old certificate accepted');
  t.equal((await postAcs(both.app, await signedBy(newIdp))).statusCode, 200, 'new certificate accepted');
  t.equal((await postAcs(both.app, await signedBy(stranger))).statusCode, 401, 'an unknown certificate is refused');

  const newOnly = await buildTokenService(t, { databaseUrl: db.url, idp: newIdp, env: { ...env, SAML_IDP_CERT: newIdp.cert } });
  t.equal((await postAcs(newOnly.app, await signedBy(oldIdp))).statusCode, 401, 'after the rollover the old certificate is refused');
  t.equal((await postAcs(newOnly.app, await signedBy(newIdp))).statusCode, 200, 'and the new one accepted');
  t.equal((await db.kysely.selectFrom('issued_tokens').select('jti').execute()).length, 3, 'three tokens, one per accepted response');
});
