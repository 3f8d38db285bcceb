/**
 * Bench 8: the upstream identity assertion. `/auth` on an allowed route with X-Auth-Request-Jwt
 * (UPSTREAM_JWT_ALL=true: the assertion is cached per token and audience) against the same
 * authz-service without it, same token, same policy, 50 connections, interleaved rounds. Goal: the
 * allow with the assertion costs at most 1.1× a plain allow in server CPU per request. After the
 * rounds, the signed-assertions counter must show that the steady state signed only what the design
 * signs: the first request, once more when the revocation listener first proves it hears (regaining
 * trust empties the cache), and once per reuse period (UPSTREAM_JWT_TTL_SECONDS 60 less its third).
 */
import { generateKeyPairSync } from 'node:crypto';
import { authHeaders, type BenchContext } from '../lib/context.js';
import { fmt, interleave, pairedCapacity, pairedRatio, type Target } from '../lib/load.js';
import type { CaseResult } from '../lib/report.js';
import { CONNECTIONS } from './hot.js';

/** How long an assertion is reused with the default UPSTREAM_JWT_TTL_SECONDS (60): its life less a third. */
const REUSE_SECONDS = 40;

async function counter(metricsPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} not found in /metrics`);
  return Number(m[1]);
}

export async function upstreamAssertion(ctx: BenchContext): Promise<CaseResult> {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const plain = await ctx.startAuthz('authz-plain');
  const asserting = await ctx.startAuthz('authz-upstream-jwt', { UPSTREAM_JWT_PRIVATE_KEY: key, UPSTREAM_JWT_ISSUER: 'https://authz.bench.example', UPSTREAM_JWT_ALL: 'true' });
  const firstAt = Date.now();
  const first = await fetch(`${asserting.url}/auth`, { headers });
  if (first.status !== 200 || !first.headers.get('x-auth-request-jwt')) throw new Error(`/auth answered ${first.status} without an assertion`);
  const plainFirst = await fetch(`${plain.url}/auth`, { headers });
  if (plainFirst.status !== 200 || plainFirst.headers.get('x-auth-request-jwt') !== null) throw new Error('the plain authz-service must answer 200 without an assertion');
  const target = (name: string, url: string, pid: number): Target => ({ name, pids: () => [pid], load: { url, connections: CONNECTIONS, headers } });
  const [p, a] = await interleave(
    [target('authz /auth, plain allow', `${plain.url}/auth`, plain.proc.pid), target('authz /auth, allow + X-Auth-Request-Jwt', `${asserting.url}/auth`, asserting.proc.pid)],
    // Eight short rounds rather than four long ones: a ratio is taken per round pair, and a slow phase of
    // this VM that covers two back-to-back rounds of one side (they alternate) weighs less in the median.
    { rounds: ctx.quick ? 2 : 8, seconds: 3, warmupSeconds: 2 },
    ctx.log,
  );
  const signed = await counter(asserting.metricsPort, 'authz_upstream_jwt_signed_total');
  const allowed = 2 + Math.floor((Date.now() - firstAt) / 1000 / REUSE_SECONDS);
  const requests = a!.rounds.reduce((n, r) => n + r.requests, 0);
  ctx.log(`  assertions signed: ${signed} over ${requests} measured requests (one token, one audience)`);
  await ctx.stopAll();
  const cost = 1 / pairedCapacity(a!, p!); // assertion ÷ plain: the reciprocal of the paired capacity ratio
  const ratio = pairedRatio(a!, p!);
  return {
    id: '8',
    title: 'authz /auth with the upstream assertion (cached) vs a plain allow',
    rows: [
      { bench: '8', measure: 'server CPU per request, allow + X-Auth-Request-Jwt (cost ratio = assertion ÷ plain)', value: `${fmt(a!.cpuUsPerRequest, 1)} µs`, baseline: `${fmt(p!.cpuUsPerRequest, 1)} µs`, ratio: fmt(cost), target: '≤ 1.1', met: cost <= 1.1 },
      { bench: '8', measure: `throughput, ${CONNECTIONS} connections`, value: `${fmt(a!.rps, 0)} req/s`, baseline: `${fmt(p!.rps, 0)} req/s`, ratio: fmt(ratio), target: '(informative)', met: null },
      { bench: '8', measure: 'assertions signed during the rounds (warm-up included)', value: String(signed), baseline: `${requests} requests`, ratio: '', target: `≤ ${allowed} (2 + one per ${REUSE_SECONDS} s)`, met: signed <= allowed },
    ],
    data: { plain: p, assertion: a, cost, ratio, signed },
  };
}
