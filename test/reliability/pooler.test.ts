/**
 * Both services behind a real PgBouncer (the Debian package) in `pool_mode = transaction`, with its
 * defaults otherwise: what CloudNativePG's Pooler, RDS Proxy and Supavisor put between a service and
 * Postgres. Readiness, issuance, revocation on two authz replicas within a second with a direct
 * LISTEN_DATABASE_URL and without one (the listener then hears nothing, says so and looks every request
 * up), and the query rate of that degraded mode under load.
 */
import t, { type Test } from 'tap';
import pg from 'pg';
import { createTestDatabase, adminUrl, migrationNames } from '../helpers/db.js';
import { startPgBouncer, PGBOUNCER_MISSING, type PgBouncer } from '../helpers/pgbouncer.js';
import { findBinary } from '../helpers/binaries.js';
import { buildAuthz } from '../helpers/authz.js';
import { buildTokenService, postAcs, type TokenFixture } from '../helpers/token-service.js';
import { claimsOf, until } from './fixtures/fixtures.js';
import type { App } from '../../services/shared/app-base.js';
import { connect } from '../../services/shared/db/connect.js';
import { migrateToLatest, pendingMigrations } from '../../services/shared/db/migrator.js';

if (!findBinary('pgbouncer')) {
  t.fail(PGBOUNCER_MISSING);
  t.end();
} else {
  run();
}

const ask = (app: App, token: string) =>
  app.inject({ method: 'GET', url: '/auth', headers: { 'x-original-uri': '/app/x', 'x-original-method': 'GET', host: 'app.example.com', authorization: `Bearer ${token}` } });

const readyz = async (app: App) => {
  const res = await app.inject('/readyz');
  return { status: res.statusCode, body: res.json() as { status: string; checks: Record<string, string> } };
};

async function metric(app: App, name: string): Promise<number> {
  const text = await app.metrics.getSingleMetricAsString(name);
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

/** Liveness queries made so far (the lookups histogram's count, every result). */
async function livenessQueries(app: App): Promise<number> {
  const histogram = app.metrics.getSingleMetric('authz_liveness_query_duration_seconds');
  const values = (await histogram!.get()).values;
  return values.filter((v) => (v as { metricName?: string }).metricName === 'authz_liveness_query_duration_seconds_count').reduce((n, v) => n + v.value, 0);
}

interface Stack {
  bouncer: PgBouncer;
  direct: string;
  pooled: string;
  name: string;
}

async function stack(t: { teardown(fn: () => unknown): void }): Promise<Stack> {
  const { url: direct, name } = await createTestDatabase(t);
  const bouncer = await startPgBouncer(t, adminUrl());
  return { bouncer, direct, pooled: bouncer.urlFor(name), name };
}

/** A token from the token-service (a real SAML response traded through the pooler). */
async function issue(svc: TokenFixture): Promise<{ token: string; jti: string }> {
  const { samlResponse } = await svc.sign();
  const res = await postAcs(svc.app, samlResponse);
  if (res.statusCode !== 200) throw new Error(`acs answered ${res.statusCode}: ${res.body}`);
  const token = (res.json() as { access_token: string }).access_token;
  return { token, jti: String(claimsOf(token).jti) };
}

/** Revokes through the token-service (POST /logout, through the pooler) and measures when both replicas refuse. */
async function revocationMs(svc: TokenFixture, replicas: App[], token: string): Promise<number> {
  const revokedAt = performance.now();
  const out = await svc.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${token}` } });
  if (out.statusCode !== 204) throw new Error(`logout answered ${out.statusCode}`);
  const seen = await Promise.all(
    replicas.map(async (app) => {
      for (;;) {
        if ((await ask(app, token)).statusCode === 401) return performance.now() - revokedAt;
        if (performance.now() - revokedAt > 5000) return Infinity;
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  return Math.max(...seen);
}

/** Five tokens issued, admitted by both replicas, then revoked: each revocation must reach both within 1 s. */
async function expectRevocationsWithin1s(t: Test, svc: TokenFixture, apps: App[], label: string): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const { token } = await issue(svc);
    for (const app of apps) t.equal((await ask(app, token)).statusCode, 200, 'admitted before the revocation');
    samples.push(await revocationMs(svc, apps, token));
  }
  const worst = Math.max(...samples);
  t.comment(`${label}: revocation reached both replicas in ${samples.map((x) => x.toFixed(1)).join(', ')} ms`);
  t.ok(worst < 1000, `worst ${worst.toFixed(1)} ms < 1000 ms`);
}

function run(): void {
  t.test('a default PgBouncer refuses a statement_timeout startup parameter (what the services used to send)', async (t) => {
    const s = await stack(t);
    const client = new pg.Client({ connectionString: s.pooled, statement_timeout: 5000 });
    client.on('error', () => {});
    await t.rejects(client.connect(), /unsupported startup parameter/, 'refused: this pooler would catch a regression');
    await client.end().catch(() => {});
  });

  t.test('migrations run through PgBouncer: serialised by a transaction-level lock, none left behind', async (t) => {
    const { url: direct, name } = await createTestDatabase(t, { migrate: false });
    const bouncer = await startPgBouncer(t, adminUrl());
    const admin = new pg.Client({ connectionString: direct });
    await admin.connect();
    t.teardown(() => admin.end());
    const advisoryLocks = async (granted: boolean) =>
      (await admin.query(`select count(*)::int as n from pg_locks where locktype = 'advisory' and granted = $1 and database = (select oid from pg_database where datname = current_database())`, [granted])).rows[0].n as number;
    // Another migrator holds the lock: this one must wait for it.
    await admin.query('begin');
    await admin.query('select pg_advisory_xact_lock(3853314791062309107)');
    const db = connect({ url: bouncer.urlFor(name), poolMax: 2, queryTimeoutMs: 0 });
    t.teardown(() => db.destroy());
    let finished = false;
    const migrating = migrateToLatest(db.kysely).finally(() => (finished = true));
    t.ok(await until(async () => (await advisoryLocks(false)) === 1, 10_000), 'the migrator waits for the migration lock');
    t.notOk(finished, 'and has not migrated meanwhile');
    await admin.query('commit');
    t.same(await migrating, migrationNames(), 'then migrates, through the pooler');
    t.equal(await advisoryLocks(true), 0, 'no advisory lock is left on a pooled server connection');
    t.same(await pendingMigrations(db.kysely), [], 'nothing pending');
  });

  t.test('both services become ready through PgBouncer in transaction mode and issuance works there', async (t) => {
    const s = await stack(t);
    const svc = await buildTokenService(t, { databaseUrl: s.pooled, env: { LISTEN_DATABASE_URL: s.direct } });
    const authz = await buildAuthz(t, { databaseUrl: s.pooled, keys: [svc.jwtKey], env: { LISTEN_DATABASE_URL: s.direct } });
    t.same(await readyz(svc.app), { status: 200, body: { status: 'ok', checks: { database: 'ok' } } }, 'token-service ready');
    t.same(await readyz(authz.app), { status: 200, body: { status: 'ok', checks: { database: 'ok', revocation_listener: 'ok', keys: 'ok' } } }, 'authz ready');
    const { token, jti } = await issue(svc);
    const check = new pg.Client({ connectionString: s.direct });
    await check.connect();
    t.teardown(() => check.end());
    const row = await check.query('select subject, revoked_at from issued_tokens where jti = $1', [jti]);
    t.same(row.rows, [{ subject: 'alice@example.com', revoked_at: null }], 'the token row was written (through the pooler) before the token was returned');
    t.equal((await ask(authz.app, token)).statusCode, 200, 'the authz-service admits it');
    t.ok(s.bouncer.log.some((l) => l.includes(`login attempt: db=${s.name}`)), 'the services really logged in through PgBouncer');
    t.notOk(s.bouncer.log.some((l) => /unsupported startup parameter/.test(l)), 'no startup parameter refused');
  });

  t.test('with LISTEN_DATABASE_URL direct: the listener hears its probes and a revocation reaches two replicas within 1 s', async (t) => {
    const s = await stack(t);
    const svc = await buildTokenService(t, { databaseUrl: s.pooled });
    const replicas = await Promise.all([0, 1].map(() => buildAuthz(t, { databaseUrl: s.pooled, keys: [svc.jwtKey], env: { LISTEN_DATABASE_URL: s.direct, ACCESS_LOG: 'false' } })));
    const apps = replicas.map((r) => r.app);
    for (const app of apps) {
      t.ok(app.authz.listener.healthy, 'listener healthy');
      t.equal(await metric(app, 'authz_revocation_listener_healthy'), 1, 'authz_revocation_listener_healthy 1');
    }
    await expectRevocationsWithin1s(t, svc, apps, 'direct listener');
    for (const app of apps) t.equal(await metric(app, 'authz_revocation_probes_missed_total'), 0, 'no probe missed');
  });

  t.test('without LISTEN_DATABASE_URL: the listener through the pooler is found deaf, says so, and a revocation still reaches two replicas within 1 s', async (t) => {
    const s = await stack(t);
    const svc = await buildTokenService(t, { databaseUrl: s.pooled });
    const replicas = await Promise.all([0, 1].map(() => buildAuthz(t, { databaseUrl: s.pooled, keys: [svc.jwtKey], env: { ACCESS_LOG: 'false' } })));
    const apps = replicas.map((r) => r.app);
    for (const [i, app] of apps.entries()) {
      t.ok(await until(async () => (await metric(app, 'authz_revocation_probes_missed_total')) >= 2, 10_000), `replica ${i}: probes missed`);
      t.equal(app.authz.listener.healthy, false, 'not healthy');
      t.equal(await metric(app, 'authz_revocation_listener_healthy'), 0, 'authz_revocation_listener_healthy 0');
      t.same(await readyz(app), { status: 200, body: { status: 'degraded', checks: { database: 'ok', revocation_listener: 'degraded', keys: 'ok' } } }, 'readiness stays 200 and says degraded');
      const warnings = replicas[i]!.logs.find((l) => String(l.msg).startsWith('revocation listener does not hear notifications'));
      t.equal(warnings.length, 1, 'logged once, not per probe');
    }
    await expectRevocationsWithin1s(t, svc, apps, 'listener through the pooler (degraded)');
  });

  t.test('degraded mode under load: every request is looked up in batches, a bounded query rate, a revocation within 1 s', async (t) => {
    const s = await stack(t);
    const svc = await buildTokenService(t, { databaseUrl: s.pooled, env: { RATE_LIMIT_MAX: '100000' } });
    const healthy = await buildAuthz(t, { databaseUrl: s.pooled, keys: [svc.jwtKey], env: { LISTEN_DATABASE_URL: s.direct, ACCESS_LOG: 'false' } });
    const replicas = await Promise.all([0, 1].map(() => buildAuthz(t, { databaseUrl: s.pooled, keys: [svc.jwtKey], env: { ACCESS_LOG: 'false' } })));
    const degraded = replicas.map((r) => r.app);
    for (const app of degraded) t.ok(await until(() => app.authz.listener.missedProbes > 0, 10_000), 'degraded: its probes go unheard');
    const tokens = await Promise.all(Array.from({ length: 20 }, () => issue(svc)));
    const victim = tokens[0]!;

    // CONCURRENCY loops per replica for DURATION_MS, each asking about one of the 20 tokens in turn.
    const CONCURRENCY = 32;
    const load = async (apps: App[], durationMs: number, revokeAtMs?: number) => {
      const lookups = () => Promise.all(apps.map(livenessQueries)).then((v) => v.reduce((x, y) => x + y, 0));
      let acquires = 0;
      const counted = () => void acquires++;
      for (const app of apps) app.db.pool.on('acquire', counted);
      const lookupsBefore = await lookups();
      const started = performance.now();
      let requests = 0;
      const wrong: string[] = [];
      let revokedAt: number | undefined;
      const refusedAt = new Map<App, number>();
      const revocation =
        revokeAtMs === undefined
          ? Promise.resolve()
          : new Promise<void>((resolve) =>
              setTimeout(() => {
                revokedAt = performance.now();
                void svc.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${victim.token}` } }).then((r) => {
                  if (r.statusCode !== 204) wrong.push(`logout ${r.statusCode}`);
                  resolve();
                });
              }, revokeAtMs),
            );
      await Promise.all(
        apps.flatMap((app) =>
          Array.from({ length: CONCURRENCY }, async (_, loop) => {
            for (let i = loop; performance.now() - started < durationMs; i++) {
              const tok = tokens[i % tokens.length]!;
              const asked = performance.now();
              const res = await ask(app, tok.token);
              requests++;
              if (tok === victim && revokedAt !== undefined && asked > revokedAt) {
                if (res.statusCode === 401 && !refusedAt.has(app)) refusedAt.set(app, performance.now() - revokedAt);
              } else if (tok === victim && revokedAt !== undefined) {
                // asked before the revocation was made, answered after: either answer is right
              } else if (res.statusCode !== 200) wrong.push(`${res.statusCode} ${String(res.headers['x-auth-request-reason'])}`);
            }
          }),
        ),
      );
      await revocation;
      const seconds = (performance.now() - started) / 1000;
      for (const app of apps) app.db.pool.removeListener('acquire', counted);
      return { seconds, requests, lookups: (await lookups()) - lookupsBefore, acquires, wrong, refusedAt: apps.map((a) => refusedAt.get(a) ?? Infinity) };
    };

    const d = await load(degraded, 3000, 1500);
    const batchMs = 5; // LIVENESS_DEGRADED_BATCH_MS default
    const perReplica = (n: number) => n / d.seconds / degraded.length;
    t.comment(
      `degraded (2 replicas, listener through PgBouncer, ${CONCURRENCY} concurrent /auth each, 20 tokens, ${d.seconds.toFixed(1)} s): ` +
        `${(d.requests / d.seconds).toFixed(0)} req/s, ${perReplica(d.lookups).toFixed(1)} liveness queries/s per replica ` +
        `(${(d.requests / Math.max(d.lookups, 1)).toFixed(1)} requests per query), ${perReplica(d.acquires).toFixed(1)} pool checkouts/s per replica (with probes); ` +
        `revocation under load reached the replicas in ${d.refusedAt.map((x) => x.toFixed(1)).join(', ')} ms`,
    );
    t.same(d.wrong, [], 'every live token admitted throughout (slower, never wrong)');
    t.ok(d.lookups > 0, 'degraded: requests are looked up in Postgres');
    t.ok(perReplica(d.lookups) <= 1000 / batchMs, `at most one query per ${batchMs} ms window per replica (${perReplica(d.lookups).toFixed(1)}/s)`);
    t.ok(d.requests / d.lookups >= 4, `lookups are batched (${(d.requests / d.lookups).toFixed(1)} requests per query)`);
    t.ok(Math.max(...d.refusedAt) < 1000, `revocation under load reached both degraded replicas in < 1000 ms (${d.refusedAt.map((x) => x.toFixed(1)).join(', ')})`);

    for (const tok of tokens) await ask(healthy.app, tok.token); // first sight: looked up once, then cached
    const h = await load([healthy.app], 2000);
    t.comment(`healthy (LISTEN_DATABASE_URL direct, same load on one replica, ${h.seconds.toFixed(1)} s): ${(h.requests / h.seconds).toFixed(0)} req/s, ${h.lookups} liveness queries`);
    t.same(h.wrong.filter((w) => !w.includes('revoked')), [], 'healthy replica admits every live token');
    t.equal(h.lookups, 0, 'healthy: not one liveness query under the same load');
  });
}
