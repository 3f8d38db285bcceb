// Probe (see README.md): user-space instructions per request, bare Fastify route against /auth, counted
// by valgrind's callgrind: a measure this VM's speed cannot move (CPU time per request moves by ±0.1
// with the machine's phase, docs/performance.md). Each server runs twice under callgrind, once for
// `short` and once for `long` requests (after the same start-up); the difference of the two runs'
// totals divided by the difference of the counts is the steady-state cost of one request, start-up and
// JIT warm-up cancelled. Kernel time (the socket's read and write) is not counted: both servers make
// the same system calls per request, and /auth also writes its access lines in 32 KiB batches.
// Needs valgrind (Debian: apt-get install valgrind) and `npm run build`.
// node --import tsx test/bench/probes/instructions.ts [short] [long] [extra authz env as in variants.ts]…
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { authHeaders, BenchContext, type Service } from '../lib/context.js';
import { interleave } from '../lib/load.js';
import { LOAD_CORE, pin } from '../lib/proc.js';
import { log, root } from './old-and-new.js';

const [shortArg = '40000', longArg = '100000', ...variants] = process.argv.slice(2);
const counts = [Number(shortArg), Number(longArg)] as const;
try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  throw new Error('valgrind is missing: apt-get install valgrind');
}

const k = (n: number) => `${(n / 1000).toFixed(1)} k`;

/** Instructions of the optimising compilers (TurboFan, Maglev) and of SHA-256, from callgrind_annotate's per-function totals. */
function byPart(file: string): { compiler: number; sha256: number } {
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  let compiler = 0;
  let sha256 = 0;
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line);
    if (!m) continue;
    const n = Number(m[1]!.replaceAll(',', ''));
    if (/v8::internal::compiler::|maglev::|turboshaft::/i.test(m[2]!)) compiler += n;
    else if (/sha256_block/.test(m[2]!)) sha256 += n;
  }
  return { compiler, sha256 };
}

pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const envOf = (v: string) => Object.fromEntries(v.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
  const targets: { name: string; path: string; start: (run: { wrapper: string[]; startTimeoutMs: number }) => Promise<Service> }[] = [
    { name: 'bare Fastify', path: '/app/home', start: (run) => ctx.startBaseline('bare', {}, [], run) },
    ...['', ...variants].map((v) => ({ name: v ? `authz /auth ${v}` : 'authz /auth', path: '/auth', start: (run: { wrapper: string[]; startTimeoutMs: number }) => ctx.startAuthz('authz', envOf(v), [], run) })),
  ];
  const perRequest: number[] = [];
  for (const t of targets) {
    const totals: number[][] = [];
    for (const n of counts) {
      const out = join(ctx.dir, `callgrind-${perRequest.length}-${n}.out`);
      const s = await t.start({ wrapper: ['valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', '--trace-children=no'], startTimeoutMs: 300_000 });
      await interleave([{ name: t.name, pids: () => [s.proc.pid], load: { url: `${s.url}${t.path}`, connections: 10, headers, timeout: 120 } }], { rounds: 1, amount: n }, () => {});
      await s.proc.stop('SIGTERM', 300_000);
      const text = await readFile(out, 'utf8');
      const total = Number(/^(?:totals|summary): (\d+)/m.exec(text)?.[1]);
      if (!Number.isFinite(total)) throw new Error(`no instruction total in ${out}`);
      const parts = byPart(out);
      totals.push([total, parts.compiler, parts.sha256]);
      log(`  ${t.name}: ${n} requests, ${(total / 1e9).toFixed(3)} G instructions in all (optimising compilers ${(parts.compiler / 1e9).toFixed(3)} G, SHA-256 ${(parts.sha256 / 1e9).toFixed(3)} G)`);
    }
    const [total, compiler, sha256] = [0, 1, 2].map((k) => (totals[1]![k]! - totals[0]![k]!) / (counts[1] - counts[0]));
    const each = total! - sha256!;
    perRequest.push(each);
    log(`${t.name}: ${k(total!)} instructions per request (user space), of which SHA-256 ${k(sha256!)} (left out below: valgrind's CPU has no SHA extensions, so OpenSSL runs its AVX2 code; with them, about 1 k) and the optimising compilers ${k(compiler!)} (warm-up not over if large)`);
  }
  for (let i = 1; i < targets.length; i++) log(`${targets[i]!.name}: bare ÷ this = ${(perRequest[0]! / perRequest[i]!).toFixed(3)} (instructions, SHA-256 left out)`);
} finally {
  await ctx.close();
}
