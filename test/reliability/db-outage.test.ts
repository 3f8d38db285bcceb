/**
 * Database outages under traffic. Postgres really stops (fast shutdown, as a crash or a failover
 * looks to a client) and starts again on the same port and data; a second test cuts the network
 * between one authz and a Postgres that stays up (a partition), which is the only way a revocation can
 * be *made* while that authz cannot hear it.
 */
import t from 'tap';
import pg from 'pg';
import { sql } from 'kysely';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { buildTokenService, postAcs, IDP_ISSUER } from '../helpers/token-service.js';
import { mint, mintLive, newSigningKey } from '../helpers/tokens.js';
import { connect } from '../../services/shared/db/connect.js';
import type { App } from '../../services/shared/app-base.js';
import { cuttableProxy } from './fixtures/postgres.js';
import { ownPostgres } from '../helpers/own-postgres.js';
import { ALICE, TINY_POLICY, ask, claimsOf, sleep, until } from './fixtures/fixtures.js';

const key = newSigningKey('ES256');
const SHORT_TTL_MS = 2000;
/** Timer and scheduling slack on top of the cache lifetime. */
const SLACK_MS = 300;

const readyz = async (app: App) => {
  const res = await app.inject('/readyz');
  return { status: res.statusCode, body: res.json() as { status: string; checks: Record<string, string> } };
};

/**
 * pg emits 'error' on a client whose server goes away. While the client is idle in the pool, the pool
 * listens; while it is checked out (e.g. between two statements of a transaction) nobody does, and an
 * 'error' event without a listener is an uncaught exception that ends the process. This watches every
 * client of an app's pool and records each error that arrived while the app had no listener of its own
 * (our listener keeps the test process alive so the rest of the outage can be checked).
 */
function watchUnhandledClientErrors(app: App, label: string, out: string[]): void {
  const seen = new WeakSet<object>();
  const watch = (client: pg.PoolClient) => {
    if (seen.has(client)) return;
    seen.add(client);
    const mine = (err: Error & { code?: string }) => {
      if (client.listeners('error').every((l) => l === mine)) out.push(`${label}: ${err.code ?? ''} ${err.message}`);
    };
    client.on('error', mine);
  };
  app.db.pool.on('connect', watch);
  app.db.pool.on('acquire', watch);
}

interface Sample {
  at: number;
  label: string;
  status: number;
}

t.test('Postgres stopped and restarted under traffic: authz fails closed within the cache lifetime, token-service issues nothing, both recover by themselves', async (t) => {
  const db = await ownPostgres(t);
  const direct = connect({ url: db.url, poolMax: 2 });
  t.teardown(() => direct.destroy());

  // Two authz replicas: a short cache lifetime (the bounded-lifetime checks) and a long one (only the
  // listener's resync can stop a revoked token there).
  // The outage is what this test is about: the listener's probe may be slow on a loaded machine without
  // being deaf (a false alarm empties the cache on recovery, and the safety net then has nothing to
  // serve), so probes get a generous deadline here. A dropped connection is still noticed at once.
  const probe = { LISTENER_PROBE_TIMEOUT_MS: '5000' };
  const short = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: TINY_POLICY, env: { CACHE_TTL_SECONDS: String(SHORT_TTL_MS / 1000), ACCESS_LOG: 'false', ...probe } });
  const long = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: TINY_POLICY, env: { CACHE_TTL_SECONDS: '300', ACCESS_LOG: 'false', ...probe } });
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { ACCESS_LOG: 'false', RATE_LIMIT_MAX: '100000' } });

  const unhandled: string[] = [];
  watchUnhandledClientErrors(short.app, 'authz', unhandled);
  watchUnhandledClientErrors(long.app, 'authz', unhandled);
  watchUnhandledClientErrors(svc.app, 'token-service', unhandled);

  const known = await mintLive(direct.kysely, key, { subject: ALICE });
  const revokedDuring = await mintLive(direct.kysely, key, { subject: ALICE });
  const fresh = await mintLive(direct.kysely, key, { subject: ALICE }); // traffic presents it from the outage on
  const neverSeen = await mintLive(direct.kysely, key, { subject: ALICE }); // presented first during the outage
  const revokedBefore = await mintLive(direct.kysely, key, { subject: ALICE });
  const unknown = mint(key, { subject: ALICE }); // well signed, no row
  await direct.pool.query('update issued_tokens set revoked_at = now() where jti = $1', [revokedBefore.jti]);

  for (const app of [short.app, long.app]) {
    t.equal((await ask(app, { token: known.token })).statusCode, 200, 'known token allowed with the database up');
    t.equal((await ask(app, { token: revokedDuring.token })).statusCode, 200, 'token to be revoked allowed with the database up');
    t.equal((await ask(app, { token: revokedBefore.token })).statusCode, 401, 'revoked token refused with the database up');
    t.equal((await ask(app, { token: known.token, path: '/a/c' })).statusCode, 403, 'a route no rule allows is 403 with the database up');
    t.equal((await readyz(app)).status, 200);
  }

  // Traffic through the short-cache authz and the ACS for the whole test.
  const samples: Sample[] = [];
  const acs: { assertionId: string; status: number; jti?: string; at: number }[] = [];
  let running = true;
  let outage = false;
  t.teardown(() => {
    running = false;
  });
  const loopErrors: string[] = [];
  const authzLoop = (async () => {
    const cases = [
      { label: 'known', token: known.token, path: '/a/b' },
      { label: 'known-denied-route', token: known.token, path: '/a/c' },
      { label: 'unknown', token: unknown.token, path: '/a/b' },
      { label: 'revoked-before', token: revokedBefore.token, path: '/a/b' },
      { label: 'fresh', token: fresh.token, path: '/a/b' },
    ];
    while (running) {
      for (const c of cases) {
        if (c.label === 'fresh' && !outage) continue; // first presented during the outage
        const at = Date.now();
        try {
          const res = await ask(short.app, { token: c.token, path: c.path });
          samples.push({ at, label: c.label, status: res.statusCode });
        } catch (err) {
          if (running) loopErrors.push(`authz: ${(err as Error).message}`);
        }
      }
      await sleep(10);
    }
  })();
  const bodies503 = new Set<string>();
  const acsLoops = Array.from({ length: 3 }, async () => {
    while (running) {
      const { samlResponse, assertionId } = await svc.sign();
      const at = Date.now();
      try {
        const res = await postAcs(svc.app, samlResponse);
        const jti = res.statusCode === 200 ? (claimsOf((res.json() as { access_token: string }).access_token).jti as string) : undefined;
        acs.push({ assertionId, status: res.statusCode, at, ...(jti ? { jti } : {}) });
        if (res.statusCode === 503) bodies503.add(res.body);
      } catch (err) {
        if (running) loopErrors.push(`acs: ${(err as Error).message}`);
      }
      await sleep(5);
    }
  });
  await sleep(300);
  // An ACS transaction is open for microseconds between its statements; this one stays open across the
  // stop (same pool, same Kysely transaction API) so that the window is hit every run, not by luck.
  let releaseTx: () => void = () => {};
  const txOpen = new Promise<void>((opened) => {
    void svc.app.db.kysely
      .transaction()
      .execute(async (trx) => {
        await sql`select 1`.execute(trx);
        opened();
        await new Promise<void>((r) => (releaseTx = r));
        await sql`select 1`.execute(trx);
      })
      .catch(() => {});
  });
  await txOpen;

  // ---- the outage ----
  const stopCalled = Date.now();
  await db.stop();
  const stopped = Date.now();
  outage = true; // only now: a token first presented while Postgres is still shutting down may be looked up and cached, rightly
  releaseTx();
  t.comment(`Postgres stopped in ${stopped - stopCalled} ms`);

  for (const app of [short.app, long.app]) {
    t.equal((await ask(app, { token: unknown.token })).statusCode, 401, 'an unknown token is refused during the outage');
    const freshRes = await ask(app, { token: neverSeen.token });
    t.equal(freshRes.statusCode, 401, 'a live token never seen before cannot be checked: refused');
    t.equal(freshRes.headers['x-auth-request-reason'], 'liveness_unavailable');
    const denied = await ask(app, { token: known.token, path: '/a/c' });
    const seen = `${denied.statusCode} ${String(denied.headers['x-auth-request-reason'])}, ${Date.now() - stopped} ms into the outage`;
    if (app === long.app) t.equal(denied.statusCode, 403, `the policy still decides: 403 stays 403 (${seen})`);
    // The short cache's answer for this token was looked up up to CACHE_TTL_SECONDS (2 s) before the stop:
    // it may already have lapsed, and then the token is refused — never allowed.
    else t.ok(denied.statusCode === 403 || (denied.statusCode === 401 && denied.headers['x-auth-request-reason'] === 'liveness_unavailable'), `short cache: 403, or 401 once its answer lapsed (${seen})`);
    t.equal((await ask(app, { path: '/pub' })).statusCode, 200, 'a public route needs no database');
  }
  t.ok(
    await until(async () => {
      const r = await readyz(short.app);
      return r.status === 503 && r.body.checks.database === 'failed' && r.body.checks.revocation_listener === 'degraded';
    }, 5000),
    'authz readiness fails (database failed, revocation_listener degraded)',
  );
  t.equal((await readyz(long.app)).status, 503, 'the other replica is not ready either');
  t.equal((await svc.app.inject('/readyz')).statusCode, 503, 'token-service readiness fails');

  t.equal((await ask(long.app, { token: revokedDuring.token })).statusCode, 200, 'within its cache lifetime a known token still works (the documented safety net)');
  // Wait out the short cache lifetime: the known token must now be refused there.
  await sleep(Math.max(0, stopped + SHORT_TTL_MS + SLACK_MS - Date.now()));
  const expired = await ask(short.app, { token: known.token });
  t.equal(expired.statusCode, 401, 'past CACHE_TTL_SECONDS a known token is refused while Postgres is down');
  t.equal(expired.headers['x-auth-request-reason'], 'liveness_unavailable');
  await sleep(500); // some more refused traffic for the record

  // ---- Postgres comes back; a revocation is made before the authz's listener is back ----
  const startCalled = Date.now(); // from here on Postgres may answer again
  await db.start();
  const restarted = Date.now();
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const listenerWasConnected = long.app.authz.listener.connected;
  await admin.query('update issued_tokens set revoked_at = now(), revoked_reason = $2 where jti = $1', [revokedDuring.jti, 'outage-test']);
  const revokedAt = Date.now();
  await admin.end();
  t.comment(`revoked ${revokedAt - restarted} ms after the restart; the long-cache replica's listener was ${listenerWasConnected ? 'already' : 'not yet'} connected`);

  t.ok(await until(() => long.app.authz.listener.connected && short.app.authz.listener.connected, 10_000), 'both LISTEN connections come back by themselves');
  const afterRevoke = await ask(long.app, { token: revokedDuring.token });
  t.equal(afterRevoke.statusCode, 401, 'the revocation made around the outage is honoured once the listener is back, despite a 300 s cache');
  t.equal(afterRevoke.headers['x-auth-request-reason'], 'revoked');
  t.comment(`listeners back ${Date.now() - restarted} ms after the restart`);

  t.ok(await until(async () => (await readyz(short.app)).body.status === 'ok' && (await readyz(long.app)).body.status === 'ok', 10_000), 'authz readiness recovers');
  t.same((await readyz(short.app)).body, { status: 'ok', checks: { database: 'ok', revocation_listener: 'ok', keys: 'ok' } });
  t.ok(await until(async () => (await svc.app.inject('/readyz')).statusCode === 200, 10_000), 'token-service readiness recovers');
  for (const app of [short.app, long.app]) {
    t.equal((await ask(app, { token: neverSeen.token })).statusCode, 200, 'the pool reconnected: a token never seen before is checked and allowed');
    t.equal((await ask(app, { token: known.token })).statusCode, 200);
  }
  t.ok(await until(() => acs.some((a) => a.at > restarted && a.status === 200), 10_000), 'the token-service issues again');
  await sleep(200);
  running = false;
  await Promise.all([authzLoop, ...acsLoops]);

  // ---- what the traffic saw ----
  const outageEnd = startCalled;
  const allowedAfterStop = samples.filter((s) => s.label === 'known' && s.status === 200 && s.at >= stopped && s.at < outageEnd);
  const lastAllowed = Math.max(stopped, ...allowedAfterStop.map((s) => s.at));
  t.ok(lastAllowed <= stopped + SHORT_TTL_MS + SLACK_MS, `a known token was allowed at most ${lastAllowed - stopped} ms into the outage (cache lifetime ${SHORT_TTL_MS} ms)`);
  t.ok(samples.some((s) => s.label === 'known' && s.status === 401 && s.at > stopped + SHORT_TTL_MS + SLACK_MS && s.at < outageEnd), 'and refused after it');
  const never200 = samples.filter((s) => ['unknown', 'revoked-before', 'known-denied-route'].includes(s.label) && s.status === 200);
  t.same(never200, [], 'no unknown token, revoked token or unallowed route was ever allowed');
  t.same(samples.filter((s) => s.status >= 500), [], 'authz never answered 5xx');
  const freshAllowedInOutage = samples.filter((s) => s.label === 'fresh' && s.status === 200 && s.at >= stopped && s.at < outageEnd);
  t.same(freshAllowedInOutage, [], 'a token first seen during the outage was never allowed');
  t.comment(`authz saw ${samples.length} requests: ${JSON.stringify(countBy(samples.map((s) => `${s.label}:${s.status}`)))}`);

  t.same(loopErrors, [], 'no request of the traffic failed');
  t.same([...new Set(acs.map((a) => a.status))].sort(), [200, 503], 'the ACS answered 200 or 503, nothing else');
  t.same([...bodies503].map((b) => JSON.parse(b) as unknown), [{ error: 'service_unavailable', message: 'service temporarily unavailable; no token was issued' }], 'one 503 body');
  t.ok(acs.some((a) => a.status === 503 && a.at >= stopped && a.at < outageEnd), 'the ACS refused during the outage');
  const rows = await direct.pool.query<{ jti: string }>('select jti from issued_tokens where idp_issuer = $1', [IDP_ISSUER]);
  const assertions = await direct.pool.query<{ assertion_id: string; jti: string }>('select assertion_id, jti from saml_assertions');
  const rowJtis = new Set(rows.rows.map((r) => r.jti));
  const assertionJti = new Map(assertions.rows.map((r) => [r.assertion_id, r.jti]));
  const issued = acs.filter((a) => a.status === 200);
  t.same(issued.filter((a) => !rowJtis.has(a.jti!) || assertionJti.get(a.assertionId) !== a.jti), [], 'every token returned has its row (and its assertion record)');
  t.same(acs.filter((a) => a.status !== 200 && assertionJti.has(a.assertionId)), [], 'no refused response left an assertion record');
  t.equal(rowJtis.size, issued.length, `no token row without a response (${issued.length} tokens, ${acs.length - issued.length} refusals)`);
  t.same(unhandled, [], 'no pool client emitted an error that nobody listened to (in a real process: a crash)');
});

t.test('partition between one authz and a Postgres that stays up: a revocation made meanwhile is honoured when the connection returns', async (t) => {
  const db = await withDb(t);
  const proxy = await cuttableProxy(t, db.url);
  const { app } = await buildAuthz(t, { databaseUrl: proxy.url, keys: [key], policy: TINY_POLICY, env: { CACHE_TTL_SECONDS: '300', ACCESS_LOG: 'false' } });
  const tok = await mintLive(db.kysely, key, { subject: ALICE });
  const other = await mintLive(db.kysely, key, { subject: ALICE });
  t.equal((await ask(app, { token: tok.token })).statusCode, 200);
  t.equal((await ask(app, { token: other.token })).statusCode, 200);

  proxy.cut();
  t.ok(await until(() => !app.authz.listener.connected, 5000), 'the listener notices the cut');
  t.equal((await readyz(app)).status, 503, 'not ready while cut off');
  // The database is up: the revocation commits and NOTIFYs, but this replica cannot hear it.
  await db.pool.query('update issued_tokens set revoked_at = now() where jti = $1', [tok.jti]);
  const during = await ask(app, { token: tok.token });
  t.comment(`while cut off, the revoked token is answered ${during.statusCode} (from the cache, bounded by CACHE_TTL_SECONDS)`);
  t.equal((await ask(app, { token: mint(key).token })).statusCode, 401, 'an unknown token is refused while cut off');

  proxy.heal();
  t.ok(await until(() => app.authz.listener.connected, 10_000), 'the listener reconnects by itself');
  const after = await ask(app, { token: tok.token });
  t.equal(after.statusCode, 401, 'the revocation made during the partition is honoured');
  t.equal(after.headers['x-auth-request-reason'], 'revoked');
  t.equal((await ask(app, { token: other.token })).statusCode, 200, 'an unrevoked token works again (looked up afresh)');
  t.ok(await until(async () => (await readyz(app)).status === 200, 10_000), 'ready again');
});

function countBy(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
}
