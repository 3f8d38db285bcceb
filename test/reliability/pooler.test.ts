/**
 * Both services behind a real PgBouncer (the Debian package) in `pool_mode = transaction`, with its
 * defaults otherwise: what CloudNativePG's Pooler, RDS Proxy and Supavisor put between a service and
 * Postgres. Readiness, issuance, revocation on two authz replicas within a second with a direct
 * LISTEN_DATABASE_URL and without one (the listener then hears nothing, says so and looks every request
 * up), and the query rate of that degraded mode under load.
 */
import t from 'tap';
import pg from 'pg';
import { createTestDatabase, adminUrl } from '../helpers/db.js';
import { startPgBouncer, PGBOUNCER_MISSING, type PgBouncer } from '../helpers/pgbouncer.js';
import { findBinary } from '../helpers/binaries.js';
import { buildAuthz } from '../helpers/authz.js';
import { buildTokenService, postAcs, type TokenFixture } from '../helpers/token-service.js';
import { claimsOf, until } from './fixtures/fixtures.js';
import type { App } from '../../services/shared/app-base.js';

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

function run(): void {
  t.test('a default PgBouncer refuses a statement_timeout startup parameter (what the services used to send)', async (t) => {
    const s = await stack(t);
    const client = new pg.Client({ connectionString: s.pooled, statement_timeout: 5000 });
    client.on('error', () => {});
    await t.rejects(client.connect(), /unsupported startup parameter/, 'refused: this pooler would catch a regression');
    await client.end().catch(() => {});
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
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { token } = await issue(svc);
      for (const app of apps) t.equal((await ask(app, token)).statusCode, 200, 'admitted before the revocation');
      samples.push(await revocationMs(svc, apps, token));
    }
    const worst = Math.max(...samples);
    t.comment(`direct listener: revocation reached both replicas in ${samples.map((x) => x.toFixed(1)).join(', ')} ms`);
    t.ok(worst < 1000, `worst ${worst.toFixed(1)} ms < 1000 ms`);
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
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { token } = await issue(svc);
      for (const app of apps) t.equal((await ask(app, token)).statusCode, 200, 'admitted before the revocation');
      samples.push(await revocationMs(svc, apps, token));
    }
    const worst = Math.max(...samples);
    t.comment(`listener through the pooler (degraded): revocation reached both replicas in ${samples.map((x) => x.toFixed(1)).join(', ')} ms`);
    t.ok(worst < 1000, `worst ${worst.toFixed(1)} ms < 1000 ms`);
  });
}
