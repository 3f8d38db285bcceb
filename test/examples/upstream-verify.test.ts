/**
 * examples/upstream-verify: the example upstream against a real authz-service (listening on loopback,
 * its JWKS fetched over HTTP by jose): a fresh assertion is accepted, anything else is 401.
 */
import t from 'tap';
import type { AddressInfo } from 'node:net';
import { createSigner } from 'fast-jwt';
import { createUpstream } from '../../examples/upstream-verify/server.js';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { mintLive, newSigningKey } from '../helpers/tokens.js';
import { serve } from '../../services/shared/server.js';

const ISS = 'https://authz.example.test';
const tokenKey = newSigningKey();
const authzKey = newSigningKey();
const POLICY = `
rules:
  - id: app
    effect: allow
    paths: ["/**"]
    groups: [staff]
    upstreamJwt: true
`;

t.test('the example upstream admits a request with a valid assertion and nothing else', async (t) => {
  const db = await withDb(t);
  const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [tokenKey], policy: POLICY, env: { UPSTREAM_JWT_PRIVATE_KEY: authzKey.privatePem, UPSTREAM_JWT_ISSUER: ISS } });
  const authz = await serve(app, { host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, shutdownDelaySeconds: 0, shutdownTimeoutSeconds: 5 });
  t.teardown(() => authz.shutdown('test end'));
  const upstream = createUpstream({ jwksUrl: `http://127.0.0.1:${authz.port}/.well-known/jwks.json`, issuer: ISS, audience: 'app.example.com' });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => upstream.close(() => r())));
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
  const call = (jwt?: string) => fetch(base, { headers: jwt === undefined ? {} : { 'x-auth-request-jwt': jwt, 'x-auth-request-user': 'mallory' } });

  const user = await mintLive(db.kysely, tokenKey, { groups: ['staff'] });
  const decision = await app.inject({ method: 'GET', url: '/auth', headers: { 'x-original-uri': '/x', 'x-original-method': 'GET', host: 'app.example.com', authorization: `Bearer ${user.token}` } });
  const assertion = decision.headers['x-auth-request-jwt'] as string;
  const ok = await call(assertion);
  t.equal(ok.status, 200);
  t.same(await ok.json(), { sub: 'alice@example.com', email: 'alice@example.com', groups: ['staff'] }, 'the identity comes from the assertion, not X-Auth-Request-User');

  const now = Math.floor(Date.now() / 1000);
  const forge = (key = authzKey, claims: Record<string, unknown> = {}) =>
    createSigner({ key: key.privatePem, algorithm: key.algorithm, kid: key.kid })({ iss: ISS, aud: 'app.example.com', sub: 'mallory', iat: now, exp: now + 60, ...claims });
  const other = await app.inject({ method: 'GET', url: '/auth', headers: { 'x-original-uri': '/x', 'x-original-method': 'GET', host: 'other.example.com', authorization: `Bearer ${user.token}` } });
  const rows: [name: string, jwt: string | undefined][] = [
    ['no assertion (only a forged X-Auth-Request-User)', undefined],
    ['the user token itself', user.token],
    ['signed with the token-service key', forge(tokenKey, { kid: undefined })],
    ['signed with another key under the authz kid', createSigner({ key: newSigningKey().privatePem, algorithm: 'ES256', kid: authzKey.kid })({ iss: ISS, aud: 'app.example.com', sub: 'mallory', iat: now, exp: now + 60 })],
    ['for another upstream', other.headers['x-auth-request-jwt'] as string],
    ['another issuer', forge(authzKey, { iss: 'https://evil.example' })],
    ['expired', forge(authzKey, { iat: now - 120, exp: now - 60 })],
    ['tampered', `${assertion.slice(0, -4)}AAAA`],
  ];
  for (const [name, jwt] of rows) t.equal((await call(jwt)).status, 401, name);
});
