/** X-Auth-Request-Jwt per request, verified with jose against the authz-service's JWKS: claims, audience, lifetime, when it is absent, the cache, revocation. */
import t from 'tap';
import { calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { mint, mintLive, newSigningKey } from '../../helpers/tokens.js';
import { revokeToken } from '../../../services/token-service/store/tokens.js';
import { serve } from '../../../services/shared/server.js';
import { ask, authzKey, ISS, jwksOf, metric, setup, tokenKey, upstreamEnv } from './fixtures.js';

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
  const tokenEvents = ['hit', 'miss', 'eviction', 'coalesced', 'overload', 'untrusted'];
  for (const ev of tokenEvents) t.equal(await metric(app, 'authz_token_cache_events_total', ev), 0, `token cache ${ev} pre-registered at 0`);
  t.equal(await metric(app, 'authz_upstream_jwt_signed_total'), 0);
  const user = await mintLive(db.kysely, tokenKey);
  const first = (await ask(app, '/app/x', { token: user.token })).headers['x-auth-request-jwt'];
  const again = await Promise.all(Array.from({ length: 20 }, () => ask(app, '/app/y', { token: user.token })));
  t.same(again.map((r) => [r.statusCode, r.headers['x-auth-request-jwt']]), Array.from({ length: 20 }, () => [200, first]), 'identical assertion 20 times');
  t.equal(await metric(app, 'authz_upstream_jwt_signed_total'), 1, 'signed once');
  t.equal(await metric(app, 'authz_upstream_jwt_cache_events_total', 'hit'), 20);
  t.equal(await metric(app, 'authz_upstream_jwt_cache_events_total', 'miss'), 1);
  // Each of the 21 requests is a liveness answer: from the cache (hit) or not (miss, coalesced, untrusted).
  let looked = 0;
  for (const ev of ['hit', 'miss', 'coalesced', 'untrusted']) looked += await metric(app, 'authz_token_cache_events_total', ev);
  t.ok(looked >= 21, `token cache events counted (${looked})`);
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

