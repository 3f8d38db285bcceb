/**
 * Bench 5: revocation propagation to two authz-service replicas. For each of 100 tokens: both
 * replicas have answered 200 (the token is cached live), then an operator's SQL UPDATE revokes the
 * row, and both replicas are polled back to back until each answers 401. The time counts from just
 * before the UPDATE is sent (so it includes the commit) to the later replica's first 401. No baseline:
 * the target is absolute.
 */
import { Agent, request } from 'node:http';
import { sql } from 'kysely';
import { authHeaders, type BenchContext, type Service } from '../lib/context.js';
import { fmt, percentile } from '../lib/load.js';
import type { CaseResult } from '../lib/report.js';

const REVOCATIONS = 100;
const GIVE_UP_MS = 5_000;

function status(agent: Agent, s: Service, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: s.port, path: '/auth', headers: authHeaders(token), agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until401(agent: Agent, s: Service, token: string, start: number): Promise<number> {
  for (;;) {
    const code = await status(agent, s, token);
    const now = performance.now();
    if (code === 401) return now - start;
    if (code !== 200) throw new Error(`replica answered ${code} while waiting for the revocation`);
    if (now - start > GIVE_UP_MS) return Infinity;
  }
}

export async function revocation(ctx: BenchContext): Promise<CaseResult> {
  const replicas = [await ctx.startAuthz('authz-replica-a'), await ctx.startAuthz('authz-replica-b')];
  const agents = replicas.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  const tokens = await ctx.mintTokens(REVOCATIONS);
  const both: number[] = [];
  const each: number[][] = [[], []];
  try {
    for (const t of tokens) {
      for (const [i, s] of replicas.entries()) {
        const code = await status(agents[i]!, s, t.token);
        if (code !== 200) throw new Error(`replica ${i} answered ${code} before the revocation`);
      }
      const start = performance.now();
      const update = sql`UPDATE issued_tokens SET revoked_at = now(), revoked_reason = 'bench' WHERE jti = ${t.jti}`.execute(ctx.db.kysely);
      const times = await Promise.all(replicas.map((s, i) => until401(agents[i]!, s, t.token, start)));
      await update;
      times.forEach((ms, i) => each[i]!.push(ms));
      both.push(Math.max(...times));
    }
  } finally {
    for (const a of agents) a.destroy();
  }
  const missed = both.filter((ms) => !Number.isFinite(ms)).length;
  if (missed > 0) throw new Error(`${missed} of ${REVOCATIONS} revocations did not reach both replicas within ${GIVE_UP_MS} ms`);
  const p50 = percentile(both, 50);
  const p99 = percentile(both, 99);
  ctx.log(`  both replicas: p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms, max ${fmt(Math.max(...both))} ms`);
  return {
    id: '5',
    title: 'revocation propagation to two replicas',
    rows: [
      { bench: '5', measure: `revocation → 401 on both replicas, p50 (${REVOCATIONS} revocations)`, value: `${fmt(p50)} ms`, baseline: '', ratio: '', target: '', met: null },
      { bench: '5', measure: 'revocation → 401 on both replicas, p99', value: `${fmt(p99)} ms`, baseline: '', ratio: '', target: '< 1000 ms', met: p99 < 1000 },
    ],
    data: { bothMs: both, replicaMs: each, p50, p99 },
  };
}
