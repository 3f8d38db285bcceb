// Probe (see README.md): user-space instructions per request, bare Fastify route against /auth, counted
// by valgrind's callgrind: a measure this VM's speed cannot move (CPU time per request moves by ±0.1
// with the machine's phase, docs/performance.md). Each server runs twice under callgrind, once for
// `short` and once for `long` requests (after the same start-up); the difference of the two runs'
// totals divided by the difference of the counts is the steady-state cost of one request, start-up and
// JIT warm-up cancelled (the optimising compilers' share is printed: near 0 once warm). Node runs with
// V8's --predictable (compilation and garbage collection on the main thread at the same points in every
// run; INSTR_CONCURRENT=1 without it: then two runs of one build differed by up to 7 %). Kernel time
// (the socket's read and write) is not counted: both servers make the same system calls per request,
// and /auth also writes its access lines in 32 KiB batches. SHA-256 is left out of the ratio: valgrind's
// CPU has no SHA extensions, so OpenSSL runs its AVX2 code (about 15 k instructions for a token, against
// about 1 k with them).
// Needs valgrind (Debian: apt-get install valgrind) and `npm run build`.
//   node --import tsx test/bench/probes/instructions.ts [short] [long] [authz variant]…
// A variant is as in variants.ts ('ACCESS_LOG=false'); ROOT=<dir> runs that build instead of dist/
// (bench-results/ab-old, README.md). INSTR_NO_BARE=1 skips the bare route; INSTR_FUNCTIONS=<n> prints
// each server's top n functions per request, JavaScript ones named from V8's perf map.
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { authHeaders, BenchContext, type Service, type SpawnOptions } from '../lib/context.js';
import { interleave } from '../lib/load.js';
import { LOAD_CORE, pin } from '../lib/proc.js';
import { log, root, variant } from './old-and-new.js';

const [shortArg = '40000', longArg = '100000', ...variants] = process.argv.slice(2);
const counts = [Number(shortArg), Number(longArg)] as const;
const topFunctions = Number(process.env.INSTR_FUNCTIONS ?? 0);
const nodeFlags = [...(process.env.INSTR_CONCURRENT === '1' ? [] : ['--predictable']), ...(topFunctions > 0 ? ['--perf-basic-prof'] : [])];
try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  throw new Error('valgrind is missing: apt-get install valgrind');
}

/**
 * Under valgrind a second holds some 50 times fewer requests, so work done per second would count 50
 * times over per request; and a probe of the revocation listener that misses its 500 ms (the service
 * is that much slower) would put the service in degraded mode, a Postgres lookup per request. Turned
 * off or made rare: the listener's self-test, policy polling, the liveness cache's expiry.
 */
const UNTIMED = { LISTENER_PROBE_INTERVAL_MS: '60000', LISTENER_PROBE_TIMEOUT_MS: '60000', POLICY_RELOAD_SECONDS: '0', CACHE_TTL_SECONDS: '3600' };

const k = (n: number) => `${(n / 1000).toFixed(1)} k`;
const COMPILER = /v8::internal::compiler::|maglev::|turboshaft::/i;
const SHA256 = /sha256_block/;

/** Instructions by function from callgrind_annotate; JIT code (`???:0x…`) named from the process's perf map when there is one. */
async function byFunction(file: string, perfMap: string | null): Promise<Map<string, number>> {
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ranges: { start: number; end: number; name: string }[] = [];
  if (perfMap !== null) {
    for (const line of (await readFile(perfMap, 'utf8').catch(() => '')).split('\n')) {
      const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
      if (m) ranges.push({ start: parseInt(m[1]!, 16), end: parseInt(m[1]!, 16) + parseInt(m[2]!, 16), name: m[3]! });
    }
    ranges.sort((a, b) => a.start - b.start);
  }
  const jitName = (address: number): string | undefined => {
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = ranges[mid]!;
      if (address < r.start) hi = mid - 1;
      else if (address >= r.end) lo = mid + 1;
      else return r.name;
    }
    return undefined;
  };
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+) \([^)]*\)\s+(.*?)(?: \[[^\]]*\])?$/.exec(line);
    if (!m) continue;
    let name = m[2]!;
    const jit = /^\?\?\?:0x([0-9a-f]+)$/.exec(name);
    if (jit) name = jitName(parseInt(jit[1]!, 16)) ?? 'JIT code (unnamed)';
    out.set(name, (out.get(name) ?? 0) + Number(m[1]!.replaceAll(',', '')));
  }
  return out;
}

const sum = (m: Map<string, number>, re: RegExp) => [...m].reduce((a, [name, n]) => (re.test(name) ? a + n : a), 0);

pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const startVariant = (v: string, run: SpawnOptions): Promise<Service> => {
    const { env, build } = variant(v);
    return ctx.startAuthz('authz', { ...UNTIMED, ...env }, nodeFlags, build === undefined ? run : { ...run, build });
  };
  const targets: { name: string; path: string; start: (run: SpawnOptions) => Promise<Service> }[] = [
    ...(process.env.INSTR_NO_BARE === '1' ? [] : [{ name: 'bare Fastify', path: '/app/home', start: (run: SpawnOptions) => ctx.startBaseline('bare', {}, nodeFlags, run) }]),
    ...(variants.length > 0 ? variants : ['']).map((v) => ({ name: v ? `authz /auth ${v}` : 'authz /auth', path: '/auth', start: (run: SpawnOptions) => startVariant(v, run) })),
  ];
  const perRequest: number[] = [];
  for (const [i, t] of targets.entries()) {
    const runs: { total: number; functions: Map<string, number> }[] = [];
    for (const n of counts) {
      const out = join(ctx.dir, `callgrind-${i}-${n}.out`);
      const s = await t.start({ wrapper: ['valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', '--trace-children=no'], startTimeoutMs: 300_000 });
      await interleave([{ name: t.name, pids: () => [s.proc.pid], load: { url: `${s.url}${t.path}`, connections: 10, headers, timeout: 120 } }], { rounds: 1, amount: n }, () => {});
      await s.proc.stop('SIGTERM', 300_000);
      const total = Number(/^(?:totals|summary): (\d+)/m.exec(await readFile(out, 'utf8'))?.[1]);
      if (!Number.isFinite(total)) throw new Error(`no instruction total in ${out}`);
      const perfMap = topFunctions > 0 ? `/tmp/perf-${s.proc.pid}.map` : null;
      const functions = await byFunction(out, perfMap);
      if (perfMap !== null) await rm(perfMap, { force: true });
      runs.push({ total, functions });
      log(`  ${t.name}: ${n} requests, ${(total / 1e9).toFixed(3)} G instructions in all`);
    }
    const dn = counts[1] - counts[0];
    const [a, b] = runs as [typeof runs[0], typeof runs[0]];
    const total = (b.total - a.total) / dn;
    const sha256 = (sum(b.functions, SHA256) - sum(a.functions, SHA256)) / dn;
    const compiler = (sum(b.functions, COMPILER) - sum(a.functions, COMPILER)) / dn;
    perRequest.push(total - sha256);
    log(`${t.name}: ${k(total)} instructions per request (user space), of which SHA-256 ${k(sha256)} and the optimising compilers ${k(compiler)}`);
    if (topFunctions > 0) {
      const names = new Set([...a.functions.keys(), ...b.functions.keys()]);
      const each = [...names].map((name) => [name, ((b.functions.get(name) ?? 0) - (a.functions.get(name) ?? 0)) / dn] as const);
      for (const [name, n] of each.sort((x, y) => y[1] - x[1]).slice(0, topFunctions)) log(`  ${n.toFixed(0).padStart(7)}  ${name.slice(0, 140)}`);
    }
  }
  if (process.env.INSTR_NO_BARE !== '1') {
    for (let i = 1; i < targets.length; i++) log(`${targets[i]!.name}: bare ÷ this = ${(perRequest[0]! / perRequest[i]!).toFixed(3)} (instructions, SHA-256 left out)`);
  } else {
    for (let i = 1; i < targets.length; i++) log(`${targets[i]!.name}: this ÷ ${targets[0]!.name} = ${(perRequest[i]! / perRequest[0]!).toFixed(3)} (instructions, SHA-256 left out)`);
  }
} finally {
  await ctx.close();
}
