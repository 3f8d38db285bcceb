// Probe (see README.md): bytes allocated per cached /auth request (summed from --trace-gc scavenges), previous build vs this one
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { readFile, readdir } from 'node:fs/promises';
import { authHeaders, BenchContext } from '../lib/context.js';
import { interleave } from '../lib/load.js';
import { LOAD_CORE, pin } from '../lib/proc.js';
const root = fileURLToPath(new URL('../../..', import.meta.url));
const log = (l: string) => process.stdout.write(`${l}\n`);
pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const c = ctx as unknown as { root: string };
  c.root = join(root, 'bench-results', 'ab-old');
  const old = await ctx.startAuthz('gc-old', {}, ['--trace-gc']);
  c.root = root;
  const cur = await ctx.startAuthz('gc-new', {}, ['--trace-gc']);
  const count = async (label: string) => {
    const f = (await readdir(ctx.dir)).find((x) => x.startsWith(label))!;
    const lines = (await readFile(join(ctx.dir, f), 'utf8')).split('\n').filter((l) => l.includes('Scavenge'));
    return lines;
  };
  for (const [label, s] of [['gc-old', old], ['gc-new', cur]] as const) {
    await interleave([{ name: label, pids: () => [s.proc.pid], load: { url: `${s.url}/auth`, connections: 50, headers } }], { rounds: 1, amount: 20_000 }, () => {});
    const before = (await count(label)).length;
    await interleave([{ name: label, pids: () => [s.proc.pid], load: { url: `${s.url}/auth`, connections: 50, headers } }], { rounds: 1, amount: 100_000 }, () => {});
    const lines = (await count(label)).slice(before - 1);
    let mb = 0;
    for (let i = 1; i < lines.length; i++) {
      const prevAfter = Number(/-> ([\d.]+)/.exec(lines[i - 1]!)![1]);
      const nowBefore = Number(/Scavenge ([\d.]+)/.exec(lines[i]!)![1]);
      mb += Math.max(0, nowBefore - prevAfter);
    }
    log(`${label}: ${lines.length - 1} scavenges, about ${mb.toFixed(0)} MB allocated per 100,000 requests (${((mb * 1048576) / 100000).toFixed(0)} B/request)`);
  }
} finally {
  await ctx.close();
}
