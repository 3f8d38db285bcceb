// Probe (see README.md): bytes allocated per cached /auth request (summed from --trace-gc scavenges), previous build vs this one
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { interleave } from '../lib/load.js';
import { log, withOldAndNew } from './old-and-new.js';
import { allocatedMb, scavenges } from './trace-gc.js';

await withOldAndNew('gc', ['--trace-gc'], async ({ ctx, headers, old, cur }) => {
  const count = async (label: string) => scavenges(join(ctx.dir, (await readdir(ctx.dir)).find((x) => x.startsWith(label))!));
  for (const [label, s] of [['gc-old', old], ['gc-new', cur]] as const) {
    await interleave([{ name: label, pids: () => [s.proc.pid], load: { url: `${s.url}/auth`, connections: 50, headers } }], { rounds: 1, amount: 20_000 }, () => {});
    const before = (await count(label)).length;
    await interleave([{ name: label, pids: () => [s.proc.pid], load: { url: `${s.url}/auth`, connections: 50, headers } }], { rounds: 1, amount: 100_000 }, () => {});
    const lines = (await count(label)).slice(before - 1);
    const mb = allocatedMb(lines);
    log(`${label}: ${lines.length - 1} scavenges, about ${mb.toFixed(0)} MB allocated per 100,000 requests (${((mb * 1048576) / 100000).toFixed(0)} B/request)`);
  }
});
