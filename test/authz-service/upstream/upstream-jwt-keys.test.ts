/** X-Auth-Request-Jwt signing keys: kept apart from the token-service's, rotation overlap, configuration errors, a JWKS_URL publishing the authz key. */
import t from 'tap';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { createServer } from 'node:http';
import { withDb } from '../../helpers/db.js';
import { buildAuthz } from '../../helpers/authz.js';
import { mintLive, newSigningKey } from '../../helpers/tokens.js';
import { jwksDocument } from '../../../services/shared/jwt-keys.js';
import { ask, authzKey, ISS, jwksOf, POLICY, setup, tokenKey, upstreamEnv } from './fixtures.js';

t.test('never verifies against the token-service keys, and a user token never verifies against the authz JWKS', async (t) => {
  const { db, app } = await setup(t);
  const user = await mintLive(db.kysely, tokenKey);
  const assertion = (await ask(app, '/app/x', { token: user.token })).headers['x-auth-request-jwt'] as string;
  const tokenJwks = createLocalJWKSet(JSON.parse(jwksDocument([tokenKey])) as JSONWebKeySet);
  await t.rejects(jwtVerify(assertion, tokenJwks), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'no token-service key has its kid');
  const forcedKid = createLocalJWKSet({ keys: [{ ...tokenKey.jwk, kid: authzKey.kid }] as JSONWebKeySet['keys'] });
  await t.rejects(jwtVerify(assertion, forcedKid), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }, 'nor does its signature, whatever the kid');
  await t.rejects(jwtVerify(user.token, createLocalJWKSet(await jwksOf(app))), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'a user token is no assertion');
  t.equal((await ask(app, '/app/x', { token: assertion })).statusCode, 401, 'and an assertion is no user token at /auth');
});

t.test('rotation overlap: [new, old] signs with new, publishes both; old assertions verify until old is removed', async (t) => {
  const oldKey = authzKey;
  const newKey = newSigningKey('ES256');
  const db = await withDb(t);
  const before = await buildAuthz(t, { databaseUrl: db.url, keys: [tokenKey], policy: POLICY, env: upstreamEnv([oldKey]) });
  const during = await buildAuthz(t, { databaseUrl: db.url, keys: [tokenKey], policy: POLICY, env: upstreamEnv([newKey, oldKey]) });
  const after = await buildAuthz(t, { databaseUrl: db.url, keys: [tokenKey], policy: POLICY, env: upstreamEnv([newKey]) });
  const user = await mintLive(db.kysely, tokenKey);
  const fromOld = (await ask(before.app, '/app/x', { token: user.token })).headers['x-auth-request-jwt'] as string;
  const fromNew = (await ask(during.app, '/app/x', { token: user.token })).headers['x-auth-request-jwt'] as string;
  t.equal(decodeProtectedHeader(fromNew).kid, newKey.kid, 'the first key signs');
  const duringJwks = await jwksOf(during.app);
  t.same(duringJwks.keys.map((k) => k.kid), [newKey.kid, oldKey.kid], 'both published');
  const opts = { issuer: ISS, audience: 'app.example.com' };
  await t.resolves(jwtVerify(fromOld, createLocalJWKSet(duringJwks), opts), 'an old-key assertion verifies during the overlap');
  await t.resolves(jwtVerify(fromNew, createLocalJWKSet(duringJwks), opts), 'a new-key one too');
  await t.rejects(jwtVerify(fromOld, createLocalJWKSet(await jwksOf(after.app)), opts), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'not once the old key is removed');
});

t.test('configuration: errors name the variable; identical keys and a policy asking for an unconfigured assertion are refused', async (t) => {
  const db = await withDb(t);
  const rows: [name: string, env: Record<string, string>, message: RegExp][] = [
    ['issuer without key', { UPSTREAM_JWT_ISSUER: ISS }, /UPSTREAM_JWT_PRIVATE_KEY: required .* the issuer and the key go together/],
    ['key without issuer', { UPSTREAM_JWT_PRIVATE_KEY: authzKey.privatePem }, /UPSTREAM_JWT_ISSUER: required when UPSTREAM_JWT_PRIVATE_KEY is set/],
    ['ALL without key', { UPSTREAM_JWT_ALL: 'true' }, /UPSTREAM_JWT_ALL: needs UPSTREAM_JWT_PRIVATE_KEY/],
    ['TTL over 60', { ...upstreamEnv(), UPSTREAM_JWT_TTL_SECONDS: '61' }, /UPSTREAM_JWT_TTL_SECONDS: expected an integer between 5 and 60/],
    ['key of another algorithm', { ...upstreamEnv(), UPSTREAM_JWT_ALGORITHM: 'EdDSA' }, /UPSTREAM_JWT_PRIVATE_KEY: key #1 \(ec\) cannot sign EdDSA/],
    ['unknown algorithm', { ...upstreamEnv(), UPSTREAM_JWT_ALGORITHM: 'HS256' }, /UPSTREAM_JWT_ALGORITHM: expected one of ES256, RS256, EdDSA/],
    ['the token key', upstreamEnv([tokenKey]), /UPSTREAM_JWT_PRIVATE_KEY: key #1 is a key user tokens are verified with/],
    ['the token key second', upstreamEnv([authzKey, tokenKey]), /UPSTREAM_JWT_PRIVATE_KEY: key #2 is a key user tokens are verified with/],
    ['no PEM', { UPSTREAM_JWT_PRIVATE_KEY: 'nope', UPSTREAM_JWT_ISSUER: ISS }, /UPSTREAM_JWT_PRIVATE_KEY: no PEM private key found/],
  ];
  for (const [name, env, message] of rows) {
    await t.rejects(buildAuthz(t, { databaseUrl: db.url, keys: [tokenKey], policy: POLICY, env }), { code: 'CONFIG_INVALID', message }, name);
  }
  await t.rejects(buildAuthz(t, { databaseUrl: db.url, keys: [tokenKey], policy: POLICY }), { message: /rule "staff-app" \(#2\): upstreamJwt: true, but the service has no UPSTREAM_JWT_PRIVATE_KEY/ }, 'fail closed: the policy is refused without a key');
  const without = await buildAuthz(t, { databaseUrl: db.url, keys: [tokenKey] });
  t.equal((await without.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).statusCode, 404, 'no JWKS when not configured');
});

t.test('JWKS_URL: a token-service JWKS that publishes the authz key is refused (the keys are kept apart at run time too)', async (t) => {
  const db = await withDb(t);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwksDocument([tokenKey, authzKey]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const { app, logs } = await buildAuthz(t, {
    databaseUrl: db.url,
    keys: [],
    policy: POLICY,
    env: { ...upstreamEnv(), JWT_PUBLIC_KEYS: '', JWKS_URL: `http://127.0.0.1:${port}/jwks`, JWKS_REFRESH_SECONDS: '3600' },
  });
  t.equal(app.authz.keys.loaded, false, 'the document is not taken');
  t.ok(logs.lines.some((l) => /own UPSTREAM_JWT_PRIVATE_KEY/.test(String(l.reason))), 'the reason is logged');
  const user = await mintLive(db.kysely, tokenKey);
  const res = await ask(app, '/app/x', { token: user.token });
  t.equal(res.statusCode, 401);
  t.equal(res.headers['x-auth-request-jwt'], undefined);
});
