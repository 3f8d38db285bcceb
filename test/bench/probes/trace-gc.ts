// What the allocation probes (gc.ts, alloc.ts) read from a server's --trace-gc log.
import { readFile } from 'node:fs/promises';

/** The log's scavenge lines, in order. */
export async function scavenges(logFile: string): Promise<string[]> {
  return (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.includes('Scavenge'));
}

/**
 * MB allocated between the first and the last of these scavenge lines: what the young generation grew
 * by between each scavenge and the one before it ("Scavenge <before> (…) -> <after>").
 */
export function allocatedMb(lines: readonly string[]): number {
  let mb = 0;
  for (let i = 1; i < lines.length; i++) {
    const prevAfter = Number(/-> ([\d.]+)/.exec(lines[i - 1]!)![1]);
    const nowBefore = Number(/Scavenge ([\d.]+)/.exec(lines[i]!)![1]);
    mb += Math.max(0, nowBefore - prevAfter);
  }
  return mb;
}
