/**
 * Load rounds with autocannon (in this process, which run.ts pins to the load core), measured next to
 * their baseline in the same run: A, B, A, B… rounds, each with the server's CPU time read from /proc
 * before and after. Ratios are taken per round pair and summarised by their median, so a noisy second
 * on a shared machine moves one pair, not the figure.
 */
import autocannon, { type Options, type Result } from 'autocannon';
import { treeCpuSeconds } from './proc.js';

export interface Target {
  name: string;
  /** The processes whose CPU the requests cost (trees: workers and backends count). */
  pids: () => number[];
  /** autocannon options, less what the round decides (duration or amount). */
  load: Omit<Options, 'duration' | 'amount'>;
  /** Per-round options (e.g. a fresh set of distinct requests); overrides `load`. */
  perRound?: (round: number) => Partial<Options>;
}

export interface Round {
  target: string;
  round: number;
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  /** the same, per process tree, in the order of `pids()` */
  cpuUsByRoot: number[];
  errors: number;
  non2xx: number;
}

export interface Summary {
  target: string;
  rounds: Round[];
  /** medians over the rounds */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** total server CPU ÷ total requests, µs */
  cpuUsPerRequest: number;
  cpuUsByRoot: number[];
  errors: number;
  non2xx: number;
}

export interface RoundPlan {
  rounds: number;
  /** a round lasts this long… */
  seconds?: number;
  /** …or sends this many requests */
  amount?: number;
  /** one unmeasured round per target first (JIT, caches, keep-alive sockets) */
  warmupSeconds?: number;
  /** non-2xx answers are a failed benchmark unless allowed */
  allowNon2xx?: boolean;
  /** every round in the given order (when a target's round depends on the one before it) */
  fixedOrder?: boolean;
}

export async function runRound(target: Target, round: number, plan: Pick<RoundPlan, 'seconds' | 'amount'>): Promise<Round> {
  const pids = target.pids();
  const cpu0 = pids.map((p) => treeCpuSeconds([p]));
  const opts: Options = { ...target.load, ...(plan.amount !== undefined ? { amount: plan.amount } : { duration: plan.seconds ?? 5 }), ...target.perRound?.(round) };
  const t0 = performance.now();
  const run = autocannon(opts);
  // A round of a fixed amount ends at autocannon's next one-second tick, not at its last answer: the
  // round's time is taken to the last answer, or its rate would be rounded down to whole seconds.
  let last = 0;
  if (plan.amount !== undefined) run.on('response', () => void (last = performance.now()));
  const r: Result = await run;
  const seconds = ((last || performance.now()) - t0) / 1000;
  const byRoot = pids.map((p, i) => treeCpuSeconds([p]) - cpu0[i]!);
  const cpu = byRoot.reduce((a, b) => a + b, 0);
  const requests = r['2xx'] + r.non2xx;
  return {
    target: target.name,
    round,
    requests,
    seconds,
    rps: requests / seconds,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    cpuUsPerRequest: requests > 0 ? (cpu / requests) * 1e6 : NaN,
    cpuUsByRoot: byRoot.map((c) => (requests > 0 ? (c / requests) * 1e6 : NaN)),
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/**
 * Runs every target in turn, `plan.rounds` times, and summarises each. Odd rounds run the targets in
 * reverse order (A B, B A, A B…): a machine that speeds up or slows down during a round pair favours
 * neither side.
 */
export async function interleave(targets: Target[], plan: RoundPlan, log: (line: string) => void): Promise<Summary[]> {
  if (plan.warmupSeconds) for (const t of targets) await runRound(t, -1, { seconds: plan.warmupSeconds });
  const rounds: Round[][] = targets.map(() => []);
  const forward = [...targets.entries()];
  const backward = [...forward].reverse();
  for (let i = 0; i < plan.rounds; i++) {
    for (const [j, t] of i % 2 === 0 || plan.fixedOrder ? forward : backward) {
      const r = await runRound(t, i, plan);
      rounds[j]!.push(r);
      log(`  round ${i + 1}/${plan.rounds} ${t.name}: ${fmt(r.rps, 0)} req/s, p99 ${r.p99Ms} ms, ${fmt(r.cpuUsPerRequest, 1)} µs CPU/req${r.non2xx || r.errors ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : ''}`);
    }
  }
  const summaries = targets.map((t, j) => summarise(t.name, rounds[j]!));
  for (const s of summaries) {
    if (s.errors > 0 || (!plan.allowNon2xx && s.non2xx > 0)) throw new Error(`${s.target}: ${s.errors} errors, ${s.non2xx} non-2xx answers: the benchmark measured failures`);
  }
  return summaries;
}

export function summarise(target: string, rounds: Round[]): Summary {
  const requests = rounds.reduce((a, r) => a + r.requests, 0);
  const cpuUs = rounds.reduce((a, r) => a + r.cpuUsPerRequest * r.requests, 0);
  return {
    target,
    rounds,
    rps: median(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuUsPerRequest: requests > 0 ? cpuUs / requests : NaN,
    cpuUsByRoot: (rounds[0]?.cpuUsByRoot ?? []).map((_, i) => rounds.reduce((a, r) => a + (r.cpuUsByRoot[i] ?? 0) * r.requests, 0) / requests),
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    non2xx: rounds.reduce((a, r) => a + r.non2xx, 0),
  };
}

/** Median of the per-round ratios candidate/baseline (throughput). */
export function pairedRatio(candidate: Summary, baseline: Summary): number {
  return median(candidate.rounds.map((r, i) => r.rps / baseline.rounds[i]!.rps));
}

/**
 * Capacity ratio: the median of the per-round ratios baseline CPU ÷ candidate CPU per request. Paired
 * by round like {@link pairedRatio}: on a machine whose speed drifts (this VM's varies by half within
 * a run), a ratio of totals is dominated by whichever rounds ran slow.
 */
export function pairedCapacity(candidate: Summary, baseline: Summary): number {
  return median(candidate.rounds.map((r, i) => baseline.rounds[i]!.cpuUsPerRequest / r.cpuUsPerRequest));
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}
