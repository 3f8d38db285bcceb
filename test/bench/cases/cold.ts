/**
 * Bench 3: the cold path. Each cold round sends 10,000 distinct valid tokens (rows written, never
 * seen by this authz-service: signature verified, liveness looked up in Postgres in batches); its
 * baseline is the next round, the same 10,000 tokens again (cached). Reported: throughput and p99 of
 * first sight, authz CPU and Postgres CPU per request, and how many liveness queries it took.
 */
import type { Request } from 'autocannon';
import { authHeaders, type BenchContext, type MintedToken } from '../lib/context.js';
import { fmt, interleave, pairedRatio, type Target } from '../lib/load.js';
import type { CaseResult } from '../lib/report.js';
import { CONNECTIONS } from './hot.js';

export const COLD_TOKENS = 10_000;

/** autocannon requests that walk through `tokens`, one per request, in order. */
export function eachToken(tokens: readonly MintedToken[]): Request[] {
  let i = 0;
  const base = authHeaders('');
  return [
    {
      method: 'GET',
      path: '/auth',
      setupRequest: (req) => {
        req.headers = { ...base, authorization: `Bearer ${tokens[i++ % tokens.length]!.token}` };
        return req;
      },
    },
  ];
}

/** A counter or histogram count from the service's /metrics, summed over label sets. */
export async function scrape(metricsPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export async function coldPath(ctx: BenchContext): Promise<CaseResult> {
  const rounds = ctx.quick ? 1 : 3;
  const t0 = Date.now();
  const sets: MintedToken[][] = [];
  for (let r = 0; r < rounds; r++) sets.push(await ctx.mintTokens(COLD_TOKENS));
  ctx.log(`  ${rounds * COLD_TOKENS} tokens signed and written in ${Math.round((Date.now() - t0) / 1000)} s`);
  const authz = await ctx.startAuthz('authz-cold');
  // Warm the process up (JIT) on other tokens, so the cold rounds measure first sight, not start-up.
  const warm = await ctx.mintTokens(2000);
  const pids = () => [authz.proc.pid];
  const pgPids = () => (ctx.postgresPid === null ? [] : [ctx.postgresPid]);
  const url = `${authz.url}/auth`;
  await interleave([{ name: 'warm-up', pids, load: { url, connections: CONNECTIONS, requests: eachToken(warm) } }], { rounds: 1, amount: 6000 }, () => {});

  const queries0 = await scrape(authz.metricsPort, 'authz_liveness_query_duration_seconds_count');
  const cold: Target = { name: 'first sight', pids: () => [...pids(), ...pgPids()], load: { url, connections: CONNECTIONS }, perRound: (r) => ({ requests: eachToken(sets[r]!) }) };
  const again: Target = { name: 'same tokens again (cached)', pids, load: { url, connections: CONNECTIONS }, perRound: (r) => ({ requests: eachToken(sets[r]!) }) };
  // Fixed order: the cached round sends the tokens its first-sight round has just shown the service.
  const [c, w] = await interleave([cold, again], { rounds, amount: COLD_TOKENS, fixedOrder: true }, ctx.log);
  const queries = (await scrape(authz.metricsPort, 'authz_liveness_query_duration_seconds_count')) - queries0;
  const ratio = pairedRatio(c!, w!);
  return {
    id: '3',
    title: 'cold path: 10,000 distinct valid tokens, first sight',
    rows: [
      { bench: '3', measure: `throughput, first sight of ${COLD_TOKENS} tokens`, value: `${fmt(c!.rps, 0)} req/s`, baseline: `${fmt(w!.rps, 0)} req/s (cached)`, ratio: fmt(ratio), target: '', met: null },
      { bench: '3', measure: 'p99 latency, first sight (saturated)', value: `${fmt(c!.p99Ms, 1)} ms`, baseline: `${fmt(w!.p99Ms, 1)} ms`, ratio: fmt(c!.p99Ms / w!.p99Ms), target: '', met: null },
      { bench: '3', measure: 'CPU per request, authz + Postgres (capacity ratio)', value: `${fmt(c!.cpuUsPerRequest, 1)} µs`, baseline: `${fmt(w!.cpuUsPerRequest, 1)} µs (authz)`, ratio: fmt(w!.cpuUsPerRequest / c!.cpuUsPerRequest), target: '', met: null },
      { bench: '3', measure: 'liveness queries per 10,000 first sights', value: fmt((queries / (rounds * COLD_TOKENS)) * COLD_TOKENS, 0), baseline: '', ratio: '', target: '', met: null },
    ],
    data: { firstSight: c, cached: w, ratio, livenessQueries: queries },
  };
}
