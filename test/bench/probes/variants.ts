// Probe (see README.md): authz-services that differ only in their environment, same token, same rounds.
// node --import tsx test/bench/probes/variants.ts <rounds> <seconds> 'NAME=a,B=c' 'ACCESS_LOG=false' …
// (each argument after the first two is one variant: comma-separated variables, ROOT=<dir> another build; '' is the default)
import { interleave } from '../lib/load.js';
import { log, root, variant } from './old-and-new.js';
import { authHeaders, BenchContext } from '../lib/context.js';
import { LOAD_CORE, pin } from '../lib/proc.js';

const [rounds, seconds, ...variants] = process.argv.slice(2);
pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const targets = [];
  for (const [i, v] of variants.entries()) {
    const { env, build } = variant(v);
    const s = await ctx.startAuthz(`variant-${i}`, env, [], build === undefined ? {} : { build });
    targets.push({ name: v || '(default)', pids: () => [s.proc.pid], load: { url: `${s.url}/auth`, connections: 50, headers } });
  }
  const sums = await interleave(targets, { rounds: Number(rounds ?? 6), seconds: Number(seconds ?? 3), warmupSeconds: 2 }, log);
  const first = sums[0]!;
  for (const s of sums) {
    const ratios = s.rounds.map((r, i) => r.cpuUsPerRequest / first.rounds[i]!.cpuUsPerRequest).sort((a, b) => a - b);
    log(`${s.target}: ${s.cpuUsPerRequest.toFixed(1)} µs/req, ${s.rps.toFixed(0)} rps, median ratio to the first ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}`);
  }
} finally {
  await ctx.close();
}
