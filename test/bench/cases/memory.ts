/**
 * Bench 7: memory. One authz-service answers one million requests over 100,000 distinct live tokens
 * (each seen ten times, round-robin: every token is a cache entry, refreshed from Postgres when its
 * CACHE_TTL_SECONDS answer expires). RSS is read from /proc after every tenth of the run; bounded
 * means under 250 MB at the end and no growth from the first half-million to the second (within
 * 10%, the heap's own breathing). Quick mode: 100,000 requests over 10,000 tokens.
 *
 * The service runs as shipped: with the NODE_OPTIONS the authz-service chart renders for its default
 * memory limit (CHART_NODE_OPTIONS). BENCH7_NODE_FLAGS replaces them with node flags of your own; set
 * to the empty string, Node sizes its heap itself (from all the memory of the machine).
 */
import { authHeaders, type BenchContext } from '../lib/context.js';
import { fmt, interleave } from '../lib/load.js';
import { rssBytes } from '../lib/proc.js';
import type { CaseResult } from '../lib/report.js';
import { eachToken } from './cold.js';
import { CONNECTIONS } from './hot.js';

const MB = 1024 * 1024;
const LIMIT_MB = 250;

/**
 * NODE_OPTIONS as charts/authz-service renders it by default (saml-authz-common.nodeHeap.flags):
 * resources.limits.memory 384Mi, nodeHeap.maxOldSpacePercent 50 (MiB, rounded down), nodeHeap.maxSemiSpaceMiB 8.
 * test/charts/node-heap.test.ts compares it with the rendered chart.
 */
const CHART_LIMIT_MIB = 384;
const CHART_MAX_OLD_SPACE_PERCENT = 50;
const CHART_MAX_SEMI_SPACE_MIB = 8;
export const CHART_NODE_OPTIONS = `--max-old-space-size=${Math.floor((CHART_LIMIT_MIB * CHART_MAX_OLD_SPACE_PERCENT) / 100)} --max-semi-space-size=${CHART_MAX_SEMI_SPACE_MIB}`;

/** How bench 7 sizes the service's heap: the chart's NODE_OPTIONS unless BENCH7_NODE_FLAGS says otherwise. */
export function heapSizing(override: string | undefined): { env: Record<string, string>; flags: string[]; label: string } {
  if (override === undefined) return { env: { NODE_OPTIONS: CHART_NODE_OPTIONS }, flags: [], label: `NODE_OPTIONS="${CHART_NODE_OPTIONS}" (the chart's, ${CHART_LIMIT_MIB}Mi limit)` };
  const flags = override.split(/\s+/).filter((f) => f !== '');
  if (flags.length === 0) return { env: {}, flags, label: 'no heap flags: Node\'s own sizing (BENCH7_NODE_FLAGS empty)' };
  return { env: {}, flags, label: `node ${flags.join(' ')} (BENCH7_NODE_FLAGS)` };
}

export async function memory(ctx: BenchContext): Promise<CaseResult> {
  const total = ctx.quick ? 100_000 : 1_000_000;
  const distinct = ctx.quick ? 10_000 : 100_000;
  const t0 = Date.now();
  const tokens = await ctx.mintTokens(distinct);
  ctx.log(`  ${distinct} tokens signed and written in ${Math.round((Date.now() - t0) / 1000)} s`);
  const heap = heapSizing(process.env.BENCH7_NODE_FLAGS);
  ctx.log(`  authz-service heap: ${heap.label}`);
  const authz = await ctx.startAuthz('authz-memory', heap.env, heap.flags);
  const probe = await fetch(`${authz.url}/auth`, { headers: authHeaders(tokens[0]!.token) });
  if (probe.status !== 200) throw new Error(`/auth answered ${probe.status}, expected 200`);
  const startRss = rssBytes(authz.proc.pid);
  const requests = eachToken(tokens); // one iterator for the whole run: round-robin over every token
  const step = total / 10;
  const samples: { requests: number; rssMb: number; rps: number }[] = [];
  for (let done = 0; done < total; done += step) {
    const [s] = await interleave([{ name: 'authz', pids: () => [authz.proc.pid], load: { url: `${authz.url}/auth`, connections: CONNECTIONS, requests } }], { rounds: 1, amount: step }, () => {});
    samples.push({ requests: done + step, rssMb: rssBytes(authz.proc.pid) / MB, rps: s!.rps });
    ctx.log(`  ${done + step} requests: RSS ${fmt(samples.at(-1)!.rssMb, 1)} MB, ${fmt(s!.rps, 0)} req/s`);
  }
  const half = samples[4]!.rssMb;
  const end = samples[9]!.rssMb;
  const peak = Math.max(...samples.map((s) => s.rssMb));
  const growth = end / half;
  return {
    id: '7',
    title: 'memory: authz RSS after 1M requests over 100k tokens',
    rows: [
      { bench: '7', measure: `RSS after ${total.toLocaleString('en')} requests over ${distinct.toLocaleString('en')} tokens (peak); heap: ${heap.label}`, value: `${fmt(end, 1)} MB (${fmt(peak, 1)})`, baseline: `${fmt(startRss / MB, 1)} MB at start`, ratio: '', target: `< ${LIMIT_MB} MB`, met: peak < LIMIT_MB },
      { bench: '7', measure: 'RSS growth, second half vs first half', value: `${fmt(end, 1)} MB`, baseline: `${fmt(half, 1)} MB at ${(total / 2).toLocaleString('en')}`, ratio: fmt(growth), target: '≤ 1.10', met: growth <= 1.1 },
    ],
    data: { heap: heap.label, nodeOptions: heap.env.NODE_OPTIONS ?? null, nodeFlags: heap.flags, startRssMb: startRss / MB, samples, growth },
  };
}
