/**
 * X-Auth-Request-Jwt through the real authz-service on a real database, verified with jose (an
 * independent JWT library) against the service's own /.well-known/jwks.json: claims, audience per
 * rule and by default, lifetime, rotation overlap, never the token-service's keys, absent on every
 * refusal, on public allows and after a revocation, the cache (no signing on a repeat), the metrics.
 */
import t from 'tap';
import { calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { withDb } from '../../helpers/db.js';
import { buildAuthz } from '../../helpers/authz.js';
import { mint, mintLive, newSigningKey } from '../../helpers/tokens.js';
import { createServer } from 'node:http';
import { revokeToken } from '../../../services/token-service/store/tokens.js';
import { serve } from '../../../services/shared/server.js';
import { jwksDocument, type SigningKey } from '../../../services/shared/jwt-keys.js';
import type { App } from '../../../services/shared/app-base.js';

const ISS = 'https://authz.test.example';
const tokenKey = newSigningKey('ES256');
const authzKey = newSigningKey('ES256');

const POLICY = `
rules:
  - id: docs-public
    effect: allow
    public: true
    paths: ["/docs/**"]
  - id: staff-app
    effect: allow
    paths: ["/app/**"]
    groups: [staff]
    upstreamJwt: true
  - id: orders
    effect: allow
    paths: ["/orders/**"]
    groups: [staff]
    upstreamJwt: true
    audience: orders-api
  - id: plain
    effect: allow
    paths: ["/plain/**"]
    groups: [staff]
  - id: secrets-never
    effect: deny
    paths: ["/app/secrets/**"]
`;

const upstreamEnv = (keys: SigningKey[] = [authzKey], extra: Record<string, string> = {}) => ({
  UPSTREAM_JWT_PRIVATE_KEY: keys.map((k) => k.privatePem).join(''),
  UPSTREAM_JWT_ISSUER: ISS,
  ...extra,
});

const ask = (app: App, uri: string, o: { token?: string; host?: string; cookie?: string } = {}) =>
  app.inject({
    method: 'GET',
    url: '/auth',
    headers: {
      'x-original-uri': uri,
      'x-original-method': 'GET',
      host: o.host ?? 'app.example.com',
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
    },
  });

async function jwksOf(app: App): Promise<JSONWebKeySet> {
  const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  if (res.statusCode !== 200) throw new Error(`JWKS answered ${res.statusCode}`);
  return res.json() as JSONWebKeySet;
}

async function metric(app: App, name: string, label?: string): Promise<number> {
  const m = app.metrics.getSingleMetric(name);
  if (!m) throw new Error(`${name} is not registered`);
  const { values } = await m.get();
  const v = values.find((x) => label === undefined || Object.values(x.labels).includes(label));
  if (!v) throw new Error(`${name}{${label}} has no value`);
  return v.value;
}

async function setup(t: { teardown(fn: () => unknown): void }, env: Record<string, string> = upstreamEnv(), policy = POLICY) {
  const db = await withDb(t);
  const authz = await buildAuthz(t, { databaseUrl: db.url, keys: [tokenKey], policy, env });
  return { db, ...authz };
}

t.test('the assertion verifies with jose against the JWKS served on the main port over HTTP; claims and header', async (t) => {
  const { db, app } = await setup(t);
  const running = await serve(app, { host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, shutdownDelaySeconds: 0, shutdownTimeoutSeconds: 5 });
  t.teardown(() => running.shutdown('test end'));
  const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${running.port}/.well-known/jwks.json`));
  const user = await mintLive(db.kysely, tokenKey, { groups: ['staff', 'ops'], exp: Math.floor(Date.now() / 1000) + 600 });
  const res = await ask(app, '/app/x', { token: user.token });
  t.equal(res.statusCode, 200);
  const assertion = res.headers['x-auth-request-jwt'] as string;
  t.type(assertion, 'string');
  t.not(assertion, user.token);
  const { payload, protectedHeader } = await jwtVerify(assertion, jwks, { issuer: ISS, audience: 'app.example.com', algorithms: ['ES256'] });
  t.same(Object.keys(payload).sort(), ['aud', 'email', 'exp', 'groups', 'iat', 'iss', 'sub']);
  t.match(payload, { iss: ISS, aud: 'app.example.com', sub: 'alice@example.com', email: 'alice@example.com', groups: ['staff', 'ops'] });
  t.ok(payload.exp! - payload.iat! <= 60 && payload.exp! - payload.iat! >= 59, `lifetime ${payload.exp! - payload.iat!} s`);
  t.ok(Math.abs(payload.iat! - Date.now() / 1000) < 5, 'iat is now');
  t.equal(protectedHeader.kid, authzKey.kid);
  t.equal(protectedHeader.kid, await calculateJwkThumbprint(authzKey.jwk as Parameters<typeof calculateJwkThumbprint>[0], 'sha256'), 'kid = RFC 7638 thumbprint');
  const published = await jwksOf(app);
  t.same(published.keys.map((k) => k.kid), [authzKey.kid]);
  t.notOk(published.keys.some((k) => 'd' in k), 'no private member is published');
  t.equal(res.headers['x-auth-request-user'], 'alice@example.com', 'identity headers still sent');
});

t.test('sid and idp pass through when the user token carries them', async (t) => {
  const { db, app } = await setup(t);
  const user = await mintLive(db.kysely, tokenKey, { extra: { sid: 'sess-42', idp: 'https://idp-b.example' } });
  const assertion = (await ask(app, '/app/x', { token: user.token })).headers['x-auth-request-jwt'] as string;
  const { payload } = await jwtVerify(assertion, createLocalJWKSet(await jwksOf(app)), { issuer: ISS, audience: 'app.example.com' });
  t.equal(payload.sid, 'sess-42');
  t.equal(payload.idp, 'https://idp-b.example');
});

t.test('audience: the rule\'s, else the request host without its port', async (t) => {
  const { db, app } = await setup(t);
  const jwks = createLocalJWKSet(await jwksOf(app));
  const user = await mintLive(db.kysely, tokenKey);
  const rows: [name: string, uri: string, host: string, aud: string][] = [
    ['rule audience', '/orders/1', 'shop.example.com', 'orders-api'],
    ['default: host', '/app/x', 'app.example.com', 'app.example.com'],
    ['default: host without port', '/app/x', 'app.example.com:8443', 'app.example.com'],
  ];
  for (const [name, uri, host, aud] of rows) {
    const res = await ask(app, uri, { token: user.token, host });
    t.equal(res.statusCode, 200, name);
    const { payload } = await jwtVerify(res.headers['x-auth-request-jwt'] as string, jwks, { issuer: ISS, audience: aud });
    t.equal(payload.aud, aud, name);
  }
  const orders = (await ask(app, '/orders/1', { token: user.token })).headers['x-auth-request-jwt'] as string;
  await t.rejects(jwtVerify(orders, jwks, { issuer: ISS, audience: 'app.example.com' }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' }, 'the orders assertion is not for another upstream');
});

t.test('lifetime: never past the user token', async (t) => {
  const { db, app } = await setup(t);
  const exp = Math.floor(Date.now() / 1000) + 20;
  const user = await mintLive(db.kysely, tokenKey, { exp });
  const res = await ask(app, '/app/x', { token: user.token });
  t.equal(res.statusCode, 200);
  t.equal(decodeJwt(res.headers['x-auth-request-jwt'] as string).exp, exp, 'exp = the user token exp (20 s left < 60 s)');
});

t.test('absent on 401, 403, public allows and rules without upstreamJwt', async (t) => {
  const { db, app } = await setup(t);
  const staff = await mintLive(db.kysely, tokenKey);
  const outsider = await mintLive(db.kysely, tokenKey, { groups: ['guests'] });
  const unknown = mint(tokenKey).token;
  const rows: [name: string, uri: string, token: string | undefined, status: number][] = [
    ['no token', '/app/x', undefined, 401],
    ['unknown token (no row)', '/app/x', unknown, 401],
    ['badly signed token', '/app/x', mint(newSigningKey()).token, 401],
    ['explicit deny', '/app/secrets/k', staff.token, 403],
    ['no rule for the group', '/app/x', outsider.token, 403],
    ['public allow, anonymous', '/docs/a', undefined, 200],
    ['public allow, signed in', '/docs/a', staff.token, 200],
    ['allow rule without upstreamJwt', '/plain/a', staff.token, 200],
  ];
  for (const [name, uri, token, status] of rows) {
    const res = await ask(app, uri, token === undefined ? {} : { token });
    t.equal(res.statusCode, status, name);
    t.equal(res.headers['x-auth-request-jwt'], undefined, `${name}: no assertion`);
  }
});

t.test('UPSTREAM_JWT_ALL=true: every non-public allow sends it, public allows never', async (t) => {
  const { db, app } = await setup(t, upstreamEnv([authzKey], { UPSTREAM_JWT_ALL: 'true' }));
  const staff = await mintLive(db.kysely, tokenKey);
  const plain = await ask(app, '/plain/a', { token: staff.token });
  t.equal(plain.statusCode, 200);
  const { payload } = await jwtVerify(plain.headers['x-auth-request-jwt'] as string, createLocalJWKSet(await jwksOf(app)), { issuer: ISS, audience: 'app.example.com' });
  t.equal(payload.sub, 'alice@example.com');
  t.equal((await ask(app, '/docs/a', { token: staff.token })).headers['x-auth-request-jwt'], undefined, 'public rule: none');
});

t.test('cached: a repeat gets the identical assertion and signs nothing; metrics pre-registered', async (t) => {
  const { db, app } = await setup(t);
  for (const ev of ['hit', 'miss', 'renewal', 'eviction', 'revoked']) t.equal(await metric(app, 'authz_upstream_jwt_cache_events_total', ev), 0, `${ev} pre-registered at 0`);
  t.equal(await metric(app, 'authz_upstream_jwt_signed_total'), 0);
  const user = await mintLive(db.kysely, tokenKey);
  const first = (await ask(app, '/app/x', { token: user.token })).headers['x-auth-request-jwt'];
  const again = await Promise.all(Array.from({ length: 20 }, () => ask(app, '/app/y', { token: user.token })));
  t.same(again.map((r) => [r.statusCode, r.headers['x-auth-request-jwt']]), Array.from({ length: 20 }, () => [200, first]), 'identical assertion 20 times');
  t.equal(await metric(app, 'authz_upstream_jwt_signed_total'), 1, 'signed once');
  t.equal(await metric(app, 'authz_upstream_jwt_cache_events_total', 'hit'), 20);
  t.equal(await metric(app, 'authz_upstream_jwt_cache_events_total', 'miss'), 1);
  await ask(app, '/orders/1', { token: user.token });
  t.equal(await metric(app, 'authz_upstream_jwt_signed_total'), 2, 'another audience is signed for itself');
});

t.test('revocation: the next request after it is heard is 401 without an assertion', async (t) => {
  const { db, app } = await setup(t);
  const user = await mintLive(db.kysely, tokenKey);
  t.type((await ask(app, '/app/x', { token: user.token })).headers['x-auth-request-jwt'], 'string');
  t.equal(app.authz.upstream?.size, 1);
  const heard = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      void metric(app, 'authz_revocations_received_total').then((n) => {
        if (n >= 1) {
          clearInterval(timer);
          resolve();
        }
      });
    }, 5);
  });
  t.ok(await revokeToken(db.kysely, user.jti, 'test'));
  await heard;
  const res = await ask(app, '/app/x', { token: user.token });
  t.equal(res.statusCode, 401);
  t.equal(res.headers['x-auth-request-reason'], 'revoked');
  t.equal(res.headers['x-auth-request-jwt'], undefined);
  t.equal(app.authz.upstream?.size, 0, 'the cached assertion is gone');
  t.equal(await metric(app, 'authz_upstream_jwt_cache_events_total', 'revoked'), 1);
});

t.test('a cached assertion is never returned once liveness says not live, even before its cache hears of it', async (t) => {
  const { db, app } = await setup(t);
  const user = await mintLive(db.kysely, tokenKey);
  t.equal((await ask(app, '/app/x', { token: user.token })).statusCode, 200);
  app.authz.liveness.revoke(user.jti); // liveness alone learns it: the assertion cache still holds the entry
  t.equal(app.authz.upstream?.size, 1);
  const res = await ask(app, '/app/x', { token: user.token });
  t.equal(res.statusCode, 401);
  t.equal(res.headers['x-auth-request-jwt'], undefined);
});

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
