// Probe (see README.md): where a busy authz-service's CPU goes, kernel and V8 builtins included, which
// the V8 profiler (profile.ts) does not show. Runs the service with --perf-basic-prof (JIT-compiled
// functions get names), loads it as bench 1 does, samples it with `perf record -e cpu-clock -g` (a
// software clock: works without the hardware counters this VM lacks) and prints the top symbols by
// self time and, for the V8 builtins among them, the JavaScript functions that call them.
// node --import tsx test/bench/probes/perf.ts [seconds] [--bare]      (needs `perf`: Debian linux-perf)
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { interleave } from '../lib/load.js';
import { log, root } from './old-and-new.js';
import { authHeaders, BenchContext } from '../lib/context.js';
import { LOAD_CORE, pin } from '../lib/proc.js';
import { CONNECTIONS } from '../cases/hot.js';

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 8);
const bare = process.argv.includes('--bare');
if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf is not installed (Debian: apt-get install linux-perf)');
pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
let serverPid = 0;
try {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const server = bare ? await ctx.startBaseline('bare', {}, ['--perf-basic-prof']) : await ctx.startAuthz('authz-perf', {}, ['--perf-basic-prof']);
  serverPid = server.proc.pid ?? 0;
  const url = bare ? `${server.url}/app/home` : `${server.url}/auth`;
  const target = { name: bare ? 'bare Fastify' : 'authz /auth', pids: () => [server.proc.pid], load: { url, connections: CONNECTIONS, headers } };
  await interleave([target], { rounds: 1, seconds: 3 }, () => {}); // JIT warm-up before sampling
  const data = join(root, 'bench-results', 'perf.data'); // kept: `perf report -i bench-results/perf.data` for more
  const recorder = interleave([target], { rounds: 1, seconds: seconds + 2 }, log);
  await new Promise((r) => setTimeout(r, 1000));
  // Not spawnSync: the load generator runs in this process's event loop.
  const rec = spawn('perf', ['record', '-q', '-g', '-e', 'cpu-clock', '-F', '2000', '-p', String(server.proc.pid), '-o', data, '--', 'sleep', String(seconds)], { stdio: 'inherit' });
  const status = await new Promise<number | null>((resolve) => rec.on('close', resolve));
  if (status !== 0) throw new Error(`perf record exited with ${status}`);
  await recorder;
  const report = (args: string[]) => spawnSync('perf', ['report', '-i', data, '--stdio', ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).stdout;
  const top = report(['--no-children', '--sort', 'dso,sym', '-g', 'none', '--percent-limit', '0.4']);
  log('\nself time by symbol (≥ 0.4%):');
  for (const l of top.split('\n')) if (l.trim() && !l.startsWith('#')) log(l);
  // Each megamorphic access builtin with the JavaScript function that called it (its first JS frame).
  const callers = report(['--no-children', '--sort', 'sym', '-g', 'caller,0.5,callee,function,percent', '--percent-limit', '0.3']);
  log('\nmegamorphic property access (V8 builtins), by the JavaScript function calling it:');
  let current = '';
  for (const l of callers.split('\n')) {
    const head = /^\s+([\d.]+)%\s+\[\.\]\s+(\S+)/.exec(l);
    if (head) current = head[2]!.includes('Megamorphic') ? `${head[1]}% ${head[2]}` : '';
    else if (current && l.includes('JS:')) {
      log(`  ${current} <- ${l.trim().replace(/^[-|\s\d.%]+/, '')}`);
      current = '';
    }
  }
} finally {
  await ctx.close();
  rmSync(`/tmp/perf-${serverPid}.map`, { force: true }); // --perf-basic-prof's symbol map
}
