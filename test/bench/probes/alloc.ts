// Probe (see README.md): bytes allocated per request (young generation, summed from --trace-gc
// scavenges) by the bare Fastify route and by /auth, same token headers, and where /auth's come from:
// with ALLOC_SAMPLE=1 the authz-service also runs V8's sampling heap profiler, counting objects the
// young generation collects too, and the top allocating functions are printed.
// node --import tsx test/bench/probes/alloc.ts [requests]
import { join } from 'node:path';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { authHeaders, BenchContext } from '../lib/context.js';
import { interleave } from '../lib/load.js';
import { LOAD_CORE, pin } from '../lib/proc.js';
import { log, root } from './old-and-new.js';
import { allocatedMb, scavenges } from './trace-gc.js';

const requests = Number(process.argv[2] ?? 100_000);
const sample = process.env.ALLOC_SAMPLE === '1';

// Preloaded into the authz-service: samples allocations (every 1 KiB on average) including objects a
// scavenge collects, from the first request on; SIGUSR2 writes the profile next to the log.
const SAMPLER = `
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
const s = new Session(); s.connect();
await s.post('HeapProfiler.enable');
await s.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
process.on('SIGUSR2', async () => {
  const { profile } = await s.post('HeapProfiler.stopSampling');
  writeFileSync(process.env.ALLOC_OUT, JSON.stringify(profile));
  process.stdout.write('{"alloc_profile":"written"}\\n');
});
`;

pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const samplerFile = join(ctx.dir, 'sampler.mjs');
  const profileFile = join(ctx.dir, 'alloc.heapprofile');
  await writeFile(samplerFile, SAMPLER);
  const bare = await ctx.startBaseline('bare', {}, ['--trace-gc']);
  const authz = await ctx.startAuthz('authz', sample ? { ALLOC_OUT: profileFile } : {}, ['--trace-gc', ...(sample ? ['--import', samplerFile] : [])]);
  for (const [name, s, path] of [['bare Fastify', bare, '/app/home'], ['authz /auth', authz, '/auth']] as const) {
    const target = { name, pids: () => [s.proc.pid], load: { url: `${s.url}${path}`, connections: 50, headers } };
    await interleave([target], { rounds: 1, amount: 20_000 }, () => {});
    const before = (await scavenges(s.proc.logFile)).length;
    await interleave([target], { rounds: 1, amount: requests }, () => {});
    const lines = (await scavenges(s.proc.logFile)).slice(before - 1);
    const mb = allocatedMb(lines);
    log(`${name}: ${lines.length - 1} scavenges, about ${((mb * 1048576) / requests).toFixed(0)} B allocated per request`);
  }
  if (sample) {
    process.kill(authz.proc.pid, 'SIGUSR2');
    for (let i = 0; i < 100 && !(await readdir(ctx.dir)).includes('alloc.heapprofile'); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] }
    const profile = JSON.parse(await readFile(profileFile, 'utf8')) as { head: Node };
    const self = new Map<string, number>();
    let total = 0;
    const walk = (n: Node) => {
      const f = n.callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*node_modules\//, '').replace(/^file:\/\/.*?\/dist\//, 'dist/')}:${f.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
      n.children.forEach(walk);
    };
    walk(profile.head);
    const perRequest = (b: number) => (b / (requests + 20_000)).toFixed(0).padStart(6);
    log(`sampled allocation of /auth over ${requests + 20_000} requests: ${perRequest(total)} B/request; top functions (B/request, self):`);
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) log(`${perRequest(v)}  ${k}`);
  }
} finally {
  await ctx.close();
}
