// Probe (see README.md): bytes allocated per cached /auth request (summed from --trace-gc scavenges), previous build vs this one
import { join } from 'node:path';
import { readFile, readdir } from 'node:fs/promises';
import { interleave } from '../lib/load.js';
import { log, withOldAndNew } from './old-and-new.js';

await withOldAndNew('gc', ['--trace-gc'], async ({ ctx, headers, old, cur }) => {
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
});
