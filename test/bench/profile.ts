/**
 * `node --import tsx test/bench/profile.ts [--seconds 15] [--bare]`: profiles the authz hot path. Starts
 * the authz-service from dist/ under `node --cpu-prof` on the server core, loads it as bench 1 does (a
 * valid cached token on an allowed route, 50 connections), stops it, and prints the top self-time
 * functions and files. The .cpuprofile is kept in bench-results/ (open it in Chrome DevTools).
 * `--bare` profiles bench 1's baseline (the bare Fastify route) instead, to compare the two.
 */
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { authHeaders, BenchContext } from './lib/context.js';
import { fmt, interleave } from './lib/load.js';
import { LOAD_CORE, pin } from './lib/proc.js';
import { writeJson } from './lib/report.js';
import { CONNECTIONS } from './cases/hot.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function and per file (µs), from a V8 .cpuprofile. */
export function selfTimes(profile: CpuProfile, root: string) {
  const byNode = new Map<number, number>();
  profile.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0; // busy time: everything but (idle)
  for (const n of profile.nodes) {
    const us = byNode.get(n.id) ?? 0;
    if (n.callFrame.functionName === '(idle)') continue;
    total += us;
    const url = n.callFrame.url.startsWith('file://') ? relative(root, fileURLToPath(n.callFrame.url)) : n.callFrame.url || '(native)';
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${url}${url.startsWith('(') ? '' : `:${n.callFrame.lineNumber + 1}`}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const file = pkg ? `node_modules/${pkg}` : url;
    files.set(file, (files.get(file) ?? 0) + us);
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => ({ name, ms: us / 1000, percent: (100 * us) / total }));
  return { totalMs: total / 1000, functions: top(fns, 30), files: top(files, 20) };
}

async function main(): Promise<void> {
  const secondsArg = process.argv.indexOf('--seconds');
  const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 15;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  pin(process.pid, LOAD_CORE);
  const ctx = await BenchContext.open(root, true, log);
  try {
    const [live] = await ctx.mintTokens(1);
    const headers = authHeaders(live!.token);
    const profDir = join(ctx.dir, 'prof');
    const flags = ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
    const bare = process.argv.includes('--bare');
    const server = bare ? await ctx.startBaseline('bare', {}, flags) : await ctx.startAuthz('authz-prof', {}, flags);
    const url = bare ? `${server.url}/app/home` : `${server.url}/auth`;
    const probe = await fetch(url, { headers });
    if (probe.status !== 200) throw new Error(`${url} answered ${probe.status}, expected 200`);
    const [s] = await interleave([{ name: bare ? 'bare Fastify' : 'authz /auth', pids: () => [server.proc.pid], load: { url, connections: CONNECTIONS, headers } }], { rounds: 1, seconds }, log);
    await ctx.stopAll();
    const [file] = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('the server wrote no .cpuprofile');
    const profile = JSON.parse(await readFile(join(profDir, file), 'utf8')) as CpuProfile;
    const times = selfTimes(profile, root);
    log(`\n${fmt(s!.rps, 0)} req/s, ${fmt(s!.cpuUsPerRequest, 1)} µs CPU/request under the profiler; ${fmt(times.totalMs, 0)} ms busy (percentages below are of that)\n`);
    log('self time by function:');
    for (const f of times.functions) log(`  ${fmt(f.percent, 1).padStart(5)}%  ${f.name}`);
    log('\nself time by file or package:');
    for (const f of times.files) log(`  ${fmt(f.percent, 1).padStart(5)}%  ${f.name}`);
    const out = await writeJson(root, { time: new Date().toISOString(), kind: 'profile', load: s, ...times });
    const kept = out.replace(/\.json$/, '.cpuprofile');
    await copyFile(join(profDir, file), kept);
    log(`\nJSON: ${out}\nprofile: ${kept}`);
  } finally {
    await ctx.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`profile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
