/**
 * Bench 1: `/auth` with a valid, cached token on an allowed route against a bare Fastify route
 * (same Fastify, same constructor settings), 50 connections, interleaved rounds. The authz-service
 * runs with its defaults (access log on at info, one allowed answer in ACCESS_LOG_ALLOWED_SAMPLE=100
 * with a line); a second authz-service with ACCESS_LOG_ALLOWED_SAMPLE=1 shows what a line for every
 * allowed answer costs.
 */
import { authHeaders, type BenchContext } from '../lib/context.js';
import { fmt, interleave, median, pairedCapacity, pairedRatio, type Target } from '../lib/load.js';
import { pacedLatency, type PacedResult } from '../lib/paced.js';
import type { CaseResult } from '../lib/report.js';

export const CONNECTIONS = 50;

export async function hotPath(ctx: BenchContext): Promise<CaseResult> {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const bare = await ctx.startBaseline('bare');
  const authz = await ctx.startAuthz('authz');
  const everyLine = await ctx.startAuthz('authz-every-line', { ACCESS_LOG_ALLOWED_SAMPLE: '1' });
  for (const s of [authz, everyLine]) {
    const res = await fetch(`${s.url}/auth`, { headers });
    if (res.status !== 200) throw new Error(`/auth answered ${res.status}, expected 200: ${await res.text()}`);
  }
  const target = (name: string, url: string, pid: number): Target => ({
    name,
    pids: () => [pid],
    load: { url, connections: CONNECTIONS, headers },
  });
  const [b, a, e] = await interleave(
    [target('bare Fastify', `${bare.url}/app/home`, bare.proc.pid), target('authz /auth', `${authz.url}/auth`, authz.proc.pid), target('authz /auth, ACCESS_LOG_ALLOWED_SAMPLE=1', `${everyLine.url}/auth`, everyLine.proc.pid)],
    { rounds: ctx.quick ? 2 : 12, seconds: 3, warmupSeconds: 2 },
    ctx.log,
  );
  // Latency below saturation: the same offered rate to both, alternating: a quarter of what authz
  // sustained, at most 1,000 req/s (the open-loop client, Node's http, must keep its schedule).
  const rate = Math.min(1000, Math.max(100, Math.round(a!.rps / 4 / 100) * 100));
  const paced: { bare: PacedResult[]; authz: PacedResult[] } = { bare: [], authz: [] };
  for (let i = 0; i < (ctx.quick ? 1 : 2); i++) {
    paced.bare.push(await pacedLatency(`${bare.url}/app/home`, headers, { rate, seconds: ctx.quick ? 3 : 5, connections: CONNECTIONS }));
    paced.authz.push(await pacedLatency(`${authz.url}/auth`, headers, { rate, seconds: ctx.quick ? 3 : 5, connections: CONNECTIONS }));
  }
  const p99Authz = median(paced.authz.map((p) => p.p99Ms));
  const p99Bare = median(paced.bare.map((p) => p.p99Ms));
  if (paced.authz.some((p) => p.failed > 0)) throw new Error('paced /auth requests failed');
  ctx.log(`  open loop at ${rate} req/s, ${CONNECTIONS} connections: p99 authz ${fmt(p99Authz)} ms, bare ${fmt(p99Bare)} ms`);
  await ctx.stopAll();
  const ratio = pairedRatio(a!, b!);
  const everyLineRatio = pairedRatio(e!, b!);
  const capacity = pairedCapacity(a!, b!);
  const everyLineCapacity = pairedCapacity(e!, b!);
  return {
    id: '1',
    title: 'authz /auth, cached token, vs bare Fastify',
    rows: [
      { bench: '1', measure: `throughput, ${CONNECTIONS} connections`, value: `${fmt(a!.rps, 0)} req/s`, baseline: `${fmt(b!.rps, 0)} req/s`, ratio: fmt(ratio), target: '≥ 0.75', met: ratio >= 0.75 },
      { bench: '1', measure: `p99 latency, ${CONNECTIONS} connections, ${rate} req/s offered`, value: `${fmt(p99Authz)} ms`, baseline: `${fmt(p99Bare)} ms`, ratio: fmt(p99Authz / p99Bare), target: '≤ 5 ms', met: p99Authz <= 5 },
      { bench: '1', measure: `p99 latency, ${CONNECTIONS} connections, saturated`, value: `${fmt(a!.p99Ms, 1)} ms`, baseline: `${fmt(b!.p99Ms, 1)} ms`, ratio: fmt(a!.p99Ms / b!.p99Ms), target: '≤ 5 ms', met: a!.p99Ms <= 5 },
      { bench: '1', measure: 'server CPU per request (capacity ratio = baseline ÷ authz)', value: `${fmt(a!.cpuUsPerRequest, 1)} µs`, baseline: `${fmt(b!.cpuUsPerRequest, 1)} µs`, ratio: fmt(capacity), target: '≥ 0.75', met: capacity >= 0.75 },
      { bench: '1', measure: 'throughput, a line for every allowed answer (ACCESS_LOG_ALLOWED_SAMPLE=1)', value: `${fmt(e!.rps, 0)} req/s, ${fmt(e!.cpuUsPerRequest, 1)} µs CPU (capacity ratio ${fmt(everyLineCapacity)})`, baseline: `${fmt(b!.rps, 0)} req/s`, ratio: fmt(everyLineRatio), target: '(informative)', met: null },
    ],
    data: { bare: b, authz: a, authzEveryLine: e, ratio, everyLineRatio, capacity, everyLineCapacity, paced },
  };
}
