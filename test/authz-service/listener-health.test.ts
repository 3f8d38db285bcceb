/**
 * The revocation listener's self-test and what the liveness cache does with its verdict, on a real
 * Postgres: probes stop arriving → not healthy (once, logged once); they arrive again → healthy; the
 * cache is not used while the listener is deaf and forgets the blind period when it hears again.
 */
import t from 'tap';
import { withDb } from '../helpers/db.js';
import { mint, mintLive, newSigningKey } from '../helpers/tokens.js';
import { RevocationListener, type DeafReason } from '../../services/authz-service/tokens/listener.js';
import { sendNotification } from '../../services/authz-service/tokens/store.js';
import { LivenessCache, type Liveness } from '../../services/authz-service/tokens/liveness.js';
import { connect } from '../../services/shared/db/connect.js';

const key = newSigningKey('ES256');

/** Health changes as a stream the test can await, one at a time. */
function healthEvents() {
  const queue: { healthy: boolean; reason: DeafReason | undefined }[] = [];
  let wake: (() => void) | undefined;
  return {
    push(healthy: boolean, reason: DeafReason | undefined) {
      queue.push({ healthy, reason });
      wake?.();
    },
    async next(timeoutMs = 5000): Promise<{ healthy: boolean; reason: DeafReason | undefined }> {
      const deadline = setTimeout(() => wake?.(), timeoutMs);
      while (queue.length === 0) {
        const waited = new Promise<void>((r) => (wake = r));
        await waited;
        if (queue.length === 0) {
          clearTimeout(deadline);
          throw new Error(`no health change within ${timeoutMs} ms`);
        }
      }
      clearTimeout(deadline);
      return queue.shift()!;
    },
  };
}

t.test('the listener is healthy while its probes arrive, not healthy when they stop, healthy again when they resume', async (t) => {
  const db = await withDb(t);
  const events = healthEvents();
  const logs: { level: string; msg: string }[] = [];
  let muted = false;
  let sent = 0;
  let missed = 0;
  let onMissed: (() => void) | undefined;
  const revoked: string[] = [];
  const listener = new RevocationListener({
    url: db.url,
    onRevoked: (jti) => revoked.push(jti),
    onResync: () => {},
    // A muted probe is never sent: exactly what a listener behind a transaction pooler experiences.
    sendProbe: async (channel, payload) => {
      if (muted) return;
      sent++;
      await sendNotification(db.kysely, channel, payload);
    },
    // Generous against a loaded CI machine: a probe delivered late must not read as deafness.
    probeIntervalMs: 100,
    probeTimeoutMs: 1000,
    onHealthChange: (healthy, reason) => events.push(healthy, reason),
    onProbeMissed: () => {
      missed++;
      onMissed?.();
    },
    log: { warn: (_o, msg) => logs.push({ level: 'warn', msg }), info: (_o, msg) => logs.push({ level: 'info', msg }) },
  });
  t.teardown(() => listener.stop());

  await listener.start();
  t.ok(listener.healthy, 'healthy once start() returns: the first probe was heard');
  t.same(await events.next(), { healthy: true, reason: undefined });
  t.ok(sent >= 1);

  muted = true;
  t.same(await events.next(), { healthy: false, reason: 'probe_missed' }, 'a probe not heard within the timeout: not healthy');
  t.equal(listener.deafReason, 'probe_missed');
  // Let several more probes go unheard: still one transition, one warning.
  await new Promise<void>((resolve) => (onMissed = () => missed >= 4 && resolve()));
  t.equal(listener.missedProbes, missed, `${missed} probes missed`);
  t.same(logs.filter((l) => l.level === 'warn').length, 1, 'the deafness is logged once, not per probe');

  // Revocations still arrive on the connection while the probes are muted (only the proof is missing).
  await sendNotification(db.kysely, 'token_revoked', 'some-jti');
  muted = false;
  t.same(await events.next(), { healthy: true, reason: undefined }, 'probes heard again: healthy');
  t.same(revoked, ['some-jti'], 'a revocation is a revocation, a probe is never one');
  t.same(logs.map((l) => l.level), ['info', 'info', 'warn', 'info'], 'connected, healthy, deaf, healthy again');

  // The LISTEN connection killed from the server side: not healthy at once, without waiting for a probe.
  await db.pool.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'saml-authz-listener' and datname = current_database()`);
  t.same(await events.next(), { healthy: false, reason: 'disconnected' }, 'a dropped connection: not healthy');
  t.same(await events.next(), { healthy: true, reason: undefined }, 'reconnected and heard a probe sent after its LISTEN: healthy');
});

t.test('the liveness cache is used only while trusted, and forgets the blind period when trust returns', async (t) => {
  const db = await withDb(t);
  let queries = 0;
  const cache = new LivenessCache(db.kysely, {
    ttlMs: 60_000,
    maxEntries: 1000,
    maxPending: 1000,
    batchSize: 200,
    maxConcurrentQueries: 2,
    degradedBatchMs: 5,
    onQuery: () => queries++,
  });
  const tok = await mintLive(db.kysely, key, { subject: 'alice@example.com' });
  const check = (jti = tok.jti): Promise<Liveness> => Promise.resolve(cache.check(jti, 'alice@example.com'));
  const revokeInDb = (jti: string) => db.pool.query('update issued_tokens set revoked_at = now() where jti = $1', [jti]);

  t.notOk(cache.isTrusted, 'not trusted until the listener has proved it hears');
  cache.setTrusted(true);
  t.same(await check(), { live: true });
  await revokeInDb(tok.jti); // nobody tells this cache (no listener here)
  const before = queries;
  t.same(await check(), { live: true }, 'trusted: the cached answer is used (no query), even though stale');
  t.equal(queries, before);

  cache.setTrusted(false);
  t.same(await check(), { live: false, reason: 'revoked' }, 'not trusted: Postgres is asked');
  t.equal(queries, before + 1);
  t.same(await check(), { live: false, reason: 'revoked' });
  t.equal(queries, before + 2, 'every request is asked again: nothing from the blind period is kept');

  // Many concurrent requests while not trusted: one query per window, one row per token.
  const others = await Promise.all(Array.from({ length: 10 }, () => mintLive(db.kysely, key, { subject: 'alice@example.com' })));
  const q0 = queries;
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => check(others[i % 10]!.jti)));
  t.ok(answers.every((a) => a.live), 'all live');
  t.equal(queries - q0, 1, '200 concurrent lookups of 10 tokens: one query');

  // A lookup answered after trust changed is not remembered.
  const fresh = await mintLive(db.kysely, key, { subject: 'alice@example.com' });
  cache.setTrusted(true);
  const pending = check(fresh.jti);
  await new Promise((r) => setImmediate(r)); // its query is now sent, while trusted
  cache.setTrusted(false);
  cache.setTrusted(true); // trust lost and regained while it ran
  t.same(await pending, { live: true });
  await revokeInDb(fresh.jti);
  t.same(await check(fresh.jti), { live: false, reason: 'revoked' }, 'the answer read before the trust change was not cached');

  // An unknown token stays unknown either way.
  t.same(await check(mint(key).jti), { live: false, reason: 'unknown_token' });
});

t.test('while not trusted and Postgres cannot be asked, only an answer cached before within its lifetime counts (the outage safety net)', async (t) => {
  const db = await withDb(t);
  const own = connect({ url: db.url, poolMax: 1, connectTimeoutMs: 500, codedErrors: true });
  t.teardown(() => own.destroy().catch(() => {})); // its pool is ended below
  const errors: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = { error: (obj: object, msg: string) => errors.push({ obj: { ...obj }, msg }), warn: () => {}, info: () => {} };
  const cache = new LivenessCache(own.kysely, { ttlMs: 60_000, maxEntries: 1000, maxPending: 1000, batchSize: 200, maxConcurrentQueries: 2, degradedBatchMs: 5, log });
  const known = await mintLive(db.kysely, key, { subject: 'alice@example.com' });
  const neverSeen = await mintLive(db.kysely, key, { subject: 'alice@example.com' });
  cache.setTrusted(true);
  t.same(await cache.check(known.jti, 'alice@example.com'), { live: true });
  cache.setTrusted(false);
  await own.pool.end(); // this cache can no longer reach Postgres
  t.same(await cache.check(known.jti, 'alice@example.com'), { live: true }, 'known before the blind period, within its lifetime: still admitted');
  t.same(await cache.check(known.jti, 'bob@example.com'), { live: false, reason: 'subject_mismatch' });
  t.same(await cache.check(neverSeen.jti, 'alice@example.com'), { live: false, reason: 'liveness_unavailable' }, 'never seen: refused');
  // Three failed lookups, one log line (at most one per 10 s: an outage must not write a line per request).
  t.equal(errors.length, 1, 'the failure is logged, once');
  t.equal(errors[0]?.msg, 'token liveness lookup failed (database unavailable): tokens not cached are refused as liveness_unavailable');
  t.match(errors[0]?.obj, { err: { message: /pool/ }, failed_lookups_not_logged: 0 });
});
