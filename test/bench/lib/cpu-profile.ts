/**
 * What the two profilers share (profile.ts: /auth, profile-acs.ts: /saml/acs): reading a V8
 * .cpuprofile, self and inclusive times, the printed report, the kept files, the entry point.
 */
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, type Summary } from './load.js';
import { writeJson } from './report.js';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function and package, and inclusive time of the functions under services/ (µs → %). */
export function profileTimes(profile: CpuProfile, root: string) {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const where = (id: number) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const file = url.startsWith('file://') ? relative(root, fileURLToPath(url)) : url || '(native)';
    return { fn: `${functionName || '(anonymous)'} ${file}${file.startsWith('(') ? '' : `:${lineNumber + 1}`}`, file, idle: functionName === '(idle)' };
  };
  const self = new Map<string, number>();
  const pkgs = new Map<string, number>();
  const ours = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const leaf = where(id);
    if (leaf.idle) return;
    total += us;
    add(self, leaf.fn, us);
    add(pkgs, /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(leaf.file)?.[1] ?? leaf.file, us);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const w = where(n);
      if (/^(dist\/)?services\//.test(w.file) && !seen.has(w.fn)) (seen.add(w.fn), add(ours, w.fn, us));
    }
  });
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => ({ name, ms: us / 1000, percent: (100 * us) / total }));
  return { totalMs: total / 1000, functions: top(self, 30), files: top(pkgs, 20), ours: top(ours, 40) };
}

/**
 * Reads the one .cpuprofile the server wrote into `profDir`, prints self time by function and by
 * file or package and the inclusive time of our own functions, writes the JSON and keeps the profile
 * next to it in bench-results/.
 */
export async function reportProfile(root: string, profDir: string, kind: string, load: Summary, extra: Record<string, unknown>, log: (line: string) => void): Promise<void> {
  const [file] = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('the server wrote no .cpuprofile');
  const profile = JSON.parse(await readFile(join(profDir, file), 'utf8')) as CpuProfile;
  const t = profileTimes(profile, root);
  log(`\n${fmt(load.rps, 0)} req/s, ${fmt(load.cpuUsPerRequest, 1)} µs CPU/request under the profiler; ${fmt(t.totalMs, 0)} ms busy (percentages below are of that)\n`);
  log('self time by function:');
  for (const f of t.functions) log(`  ${fmt(f.percent, 1).padStart(5)}%  ${f.name}`);
  log('\nself time by file or package:');
  for (const f of t.files) log(`  ${fmt(f.percent, 1).padStart(5)}%  ${f.name}`);
  log('\ninclusive time of our functions:');
  for (const f of t.ours) log(`  ${fmt(f.percent, 1).padStart(5)}%  ${f.name}`);
  const out = await writeJson(root, { time: new Date().toISOString(), kind, ...extra, load, ...t });
  const kept = out.replace(/\.json$/, '.cpuprofile');
  await copyFile(join(profDir, file), kept);
  log(`\nJSON: ${out}\nprofile: ${kept}`);
}

/** Runs a profiler's main and exits (the load generator's sockets would keep the process alive). */
export function runProfiler(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`profile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
