import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { mint, mintLive, newSigningKey } from '../helpers/tokens.js';
import { revokeToken } from '../../services/token-service/store/tokens.js';
import type { App } from '../../services/shared/app-base.js';

const key = newSigningKey('ES256');
const ask = (app: App, token: string) =>
  app.inject({ method: 'GET', url: '/auth', headers: { 'x-original-uri': '/app/x', 'x-original-method': 'GET', host: 'app.example.com', authorization: `Bearer ${token}` } });

/** Counts every connection checkout from the app's pool: each Kysely query makes one. */
function countQueries(app: App): () => number {
  let n = 0;
  app.db.pool.on('acquire', () => n++);
  return () => n;
}

t.test('steady state: no database query per request', async (t) => {
  const db = await withDb(t);
  // The listener's probe (one query per interval, not per request) would be counted: keep it out of the window.
  const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], env: { LISTENER_PROBE_INTERVAL_MS: '60000' } });
  t.ok(app.authz.listener.healthy, 'the listener heard its first probe during start-up');
  const tokens = await Promise.all(Array.from({ length: 5 }, () => mintLive(db.kysely, key)));
  const queries = countQueries(app);
  for (const tok of tokens) t.equal((await ask(app, tok.token)).statusCode, 200, 'first sight');
  const afterWarmup = queries();
  t.ok(afterWarmup >= 1 && afterWarmup <= 5, `first sight looked tokens up (${afterWarmup} queries)`);
  for (let i = 0; i < 500; i++) {
    const res = await ask(app, tokens[i % tokens.length]!.token);
    if (res.statusCode !== 200) t.fail(`request ${i}: ${res.statusCode}`);
  }
  t.equal(queries(), afterWarmup, '500 further requests made no query');
});

t.test('a flood of well-signed unknown tokens makes a bounded number of batched queries', async (t) => {
  const db = await withDb(t);
  const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const queries = countQueries(app);
  const unknown = Array.from({ length: 1000 }, () => mint(key).token);
  const results = await Promise.all(unknown.map((tok) => ask(app, tok)));
  t.same(new Set(results.map((r) => r.statusCode)), new Set([401]), 'all refused');
  t.ok(queries() <= 10, `1000 unknown tokens took ${queries()} queries (batched)`);
  const again = await Promise.all(unknown.slice(0, 100).map((tok) => ask(app, tok)));
  t.same(new Set(again.map((r) => `${r.statusCode} ${String(r.headers['x-auth-request-reason'])}`)), new Set(['401 unknown_token']), 'refused as unknown_token');
  t.ok(queries() <= 10, 'their second sight is answered from the cache');
});

t.test('two replicas: a revocation is enforced by both within one second', async (t) => {
  const db = await withDb(t);
  const a = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const b = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const tok = await mintLive(db.kysely, key);
    t.equal((await ask(a.app, tok.token)).statusCode, 200);
    t.equal((await ask(b.app, tok.token)).statusCode, 200);
    const revokedAt = performance.now();
    t.ok(await revokeToken(db.kysely, tok.jti, 'test'), 'revoked');
    const seen = await Promise.all(
      [a.app, b.app].map(async (app) => {
        for (;;) {
          const res = await ask(app, tok.token);
          if (res.statusCode === 401) return performance.now() - revokedAt;
          if (performance.now() - revokedAt > 1000) return Infinity;
          await new Promise((r) => setTimeout(r, 5));
        }
      }),
    );
    samples.push(Math.max(...seen));
  }
  const worst = Math.max(...samples);
  t.comment(`revocation reached both replicas in ${samples.map((s) => s.toFixed(1)).join(', ')} ms`);
  t.ok(worst < 1000, `worst ${worst.toFixed(1)} ms < 1000 ms`);
});

t.test('the listener coming back forgets the cache: a revocation missed while it was away is honoured', async (t) => {
  const db = await withDb(t);
  const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const tok = await mintLive(db.kysely, key);
  t.equal((await ask(app, tok.token)).statusCode, 200);
  // Kill the LISTEN connection from the server side, revoke while it is down, then let it reconnect.
  await db.pool.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'saml-authz-listener' and datname = current_database()`);
  await db.pool.query(`update issued_tokens set revoked_at = now() where jti = $1`, [tok.jti]);
  const deadline = Date.now() + 5000;
  while (!app.authz.listener.connected || (await ask(app, tok.token)).statusCode === 200) {
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal((await ask(app, tok.token)).statusCode, 401, 'refused after the reconnect');
});
