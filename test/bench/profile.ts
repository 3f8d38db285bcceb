/**
 * `node --import tsx test/bench/profile.ts [--seconds 15] [--bare]`: profiles the authz hot path. Starts
 * the authz-service from dist/ under `node --cpu-prof` on the server core, loads it as bench 1 does (a
 * valid cached token on an allowed route, 50 connections), stops it, and prints the top self-time
 * functions and files and the inclusive time of our own functions. The .cpuprofile is kept in bench-results/ (open it in Chrome DevTools).
 * `--bare` profiles bench 1's baseline (the bare Fastify route) instead, to compare the two.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { authHeaders, BenchContext } from './lib/context.js';
import { reportProfile, runProfiler } from './lib/cpu-profile.js';
import { interleave } from './lib/load.js';
import { LOAD_CORE, pin } from './lib/proc.js';
import { CONNECTIONS } from './cases/hot.js';

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
    await reportProfile(root, profDir, 'profile', s!, {}, log);
  } finally {
    await ctx.close();
  }
}

runProfiler(main);
