// Probe (see README.md): what each server asks of the kernel per request, bare Fastify route against
// /auth under the same load: read and write system calls (/proc/<pid>/io syscr, syscw), page faults
// (/proc/<pid>/stat minflt) and context switches (/proc/<pid>/status), over a fixed number of requests.
// On a VM where a system call or a fault costs a trip through the hypervisor, these decide as much as
// the instructions do.
// node --import tsx test/bench/probes/kernel.ts [requests] [rounds]
import { readdirSync, readFileSync } from 'node:fs';
import { authHeaders, BenchContext } from '../lib/context.js';
import { interleave } from '../lib/load.js';
import { LOAD_CORE, pin, procStat } from '../lib/proc.js';
import { log, root } from './old-and-new.js';

const requests = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 3);

/** User and system CPU seconds per thread name. */
function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const { name, userSeconds, systemSeconds } = procStat(`/proc/${pid}/task/${tid}/stat`);
      out[`${name} user`] = (out[`${name} user`] ?? 0) + userSeconds;
      out[`${name} system`] = (out[`${name} system`] ?? 0) + systemSeconds;
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The counters of one process (all its threads). */
function counters(pid: number): Record<string, number> {
  const io = Object.fromEntries(readFileSync(`/proc/${pid}/io`, 'utf8').trim().split('\n').map((l) => l.split(': ')).map(([k, v]) => [k!, Number(v)]));
  const { fields } = procStat(`/proc/${pid}/stat`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const switches = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return {
    'read syscalls': io.syscr!,
    'write syscalls': io.syscw!,
    'minor faults': Number(fields[7]),
    'voluntary switches': switches('voluntary_ctxt_switches'),
    'involuntary switches': switches('nonvoluntary_ctxt_switches'),
  };
}

pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const bare = await ctx.startBaseline('bare');
  const authz = await ctx.startAuthz('authz');
  const servers = [['bare Fastify', bare, '/app/home'], ['authz /auth', authz, '/auth']] as const;
  for (const [name, s, path] of servers) await interleave([{ name, pids: () => [s.proc.pid], load: { url: `${s.url}${path}`, connections: 50, headers } }], { rounds: 1, amount: 20_000 }, () => {});
  for (let round = 0; round < rounds; round++) {
    for (const [name, s, path] of round % 2 === 0 ? servers : [...servers].reverse()) {
      const before = counters(s.proc.pid);
      const cpuBefore = threadCpu(s.proc.pid);
      await interleave([{ name, pids: () => [s.proc.pid], load: { url: `${s.url}${path}`, connections: 50, headers } }], { rounds: 1, amount: requests }, () => {});
      const after = counters(s.proc.pid);
      const cpuAfter = threadCpu(s.proc.pid);
      const byThread = Object.keys(cpuAfter).map((k) => [k, ((cpuAfter[k]! - (cpuBefore[k] ?? 0)) * 1e6) / requests] as const).filter(([, us]) => us > 0.05);
      log(`round ${round + 1} ${name}: CPU µs per request by thread: ${byThread.map(([k, us]) => `${k} ${us.toFixed(2)}`).join(', ')}`);
      log(`round ${round + 1} ${name}: ${Object.keys(after).map((k) => `${k} ${((after[k]! - before[k]!) / requests).toFixed(3)}`).join(', ')} per request`);
    }
  }
} finally {
  await ctx.close();
}
