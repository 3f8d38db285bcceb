import t from 'tap';
import { ownPostgres } from '../helpers/own-postgres.js';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';
import { connect } from '../../services/shared/db/connect.js';

t.test('ALLOWED_CIDRS narrows who may redeem: 403 outside, and the document is never read', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { ALLOWED_CIDRS: '10.20.0.0/16', TRUSTED_PROXIES: '127.0.0.1' } });
  const { samlResponse } = await svc.sign();
  const outside = await postAcs(svc.app, samlResponse, { remote: '192.0.2.7' });
  t.equal(outside.statusCode, 403);
  t.same(outside.json(), { error: 'source_not_allowed', message: 'this network may not redeem SAML responses' });
  const spoofed = await postAcs(svc.app, samlResponse, { remote: '192.0.2.7', headers: { 'x-forwarded-for': '10.20.1.1' } });
  t.equal(spoofed.statusCode, 403, 'X-Forwarded-For from an untrusted peer does not count');
  const viaProxy = await postAcs(svc.app, samlResponse, { remote: '127.0.0.1', headers: { 'x-forwarded-for': '10.20.1.1' } });
  t.equal(viaProxy.statusCode, 200, 'from the trusted proxy, the forwarded address counts');
  t.match(svc.logs.find((l) => l.event === 'redeem_refused')[0], { reason: 'source_not_allowed', client: '192.0.2.7' });
  t.equal(svc.logs.find((l) => l.event === 'saml_refused').length, 0, 'refused before SAML validation');
  const rows = await db.kysely.selectFrom('issued_tokens').select('client_address').execute();
  t.same(rows, [{ client_address: '10.20.1.1' }]);
});

t.test('rate limit per client address: 429 after RATE_LIMIT_MAX', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '60' } });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await postAcs(svc.app, 'bm90LXNhbWw=', { remote: '198.51.100.1' })).statusCode);
  t.same(statuses, [401, 401, 401, 429, 429]);
  t.equal((await postAcs(svc.app, 'bm90LXNhbWw=', { remote: '198.51.100.2' })).statusCode, 401, 'another address has its own budget');
  const limited = await postAcs(svc.app, 'bm90LXNhbWw=', { remote: '198.51.100.1' });
  t.equal(limited.json().error, 'rate_limited');
  t.ok(limited.headers['retry-after'], 'Retry-After is set');
});

t.test('logout revokes the presented token (bearer or cookie) and clears the cookie', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const issue = async () => (await postAcs(svc.app, (await svc.sign()).samlResponse)).json().access_token as string;
  const bearer = await issue();
  const res = await svc.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${bearer}` } });
  t.equal(res.statusCode, 204);
  t.same(res.headers['set-cookie'], ['__Host-saml_authz=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure', '__Host-saml_authz_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure'], 'both cookies cleared');
  const cookie = await issue();
  t.equal((await svc.app.inject({ method: 'POST', url: '/logout', headers: { cookie: `__Host-saml_authz=${cookie}` } })).statusCode, 204);
  const revoked = await db.kysely.selectFrom('issued_tokens').select(['revoked_reason']).where('revoked_at', 'is not', null).execute();
  t.same(revoked, [{ revoked_reason: 'logout' }, { revoked_reason: 'logout' }]);
  t.equal(svc.logs.find((l) => l.event === 'token_revoked').length, 2, 'each revocation audited');
  t.equal(svc.logs.find((l) => l.event === 'session_ended' && l.reason === 'sign_out').length, 2, 'each token\'s session ended');

  const none = await svc.app.inject({ method: 'POST', url: '/logout' });
  t.equal(none.statusCode, 401);
  const forged = bearer.slice(0, -4) + (bearer.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  t.equal((await svc.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${forged}` } })).statusCode, 401, 'a forged token revokes nothing');
  t.notOk(svc.logs.raw.some((l) => l.includes(bearer) || l.includes(cookie)), 'no token in the logs');
});

t.test('Postgres down: 503 and no token; back up: works without a restart', async (t) => {
  const pg = await ownPostgres(t);
  const svc = await buildTokenService(t, { databaseUrl: pg.url });
  await pg.stop();
  const down = await postAcs(svc.app, (await svc.sign()).samlResponse);
  t.equal(down.statusCode, 503);
  t.same(down.json(), { error: 'service_unavailable', message: 'service temporarily unavailable; no token was issued' });

  await pg.start();
  const { samlResponse } = await svc.sign();
  const up = await postAcs(svc.app, samlResponse);
  t.equal(up.statusCode, 200, 'issues again once Postgres is back');
  const check = connect({ url: pg.url, poolMax: 1 });
  t.teardown(() => check.destroy());
  const rows = await check.kysely.selectFrom('issued_tokens').select('jti').execute();
  t.equal(rows.length, 1, 'exactly the one token issued while up has a row');
});
