// Probe (see README.md): heap composition of an authz-service after N tokens
import { fileURLToPath } from 'node:url';
import { BenchContext } from '../lib/context.js';
import { interleave } from '../lib/load.js';
import { LOAD_CORE, pin, rssBytes } from '../lib/proc.js';
import { eachToken } from '../cases/cold.js';
const n = Number(process.argv[2] ?? 100000);
const rounds = Number(process.argv[3] ?? 2);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const log = (l: string) => process.stdout.write(`${l}\n`);
pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const tokens = await ctx.mintTokens(n);
  const authz = await ctx.startAuthz('authz-mem', {}, (process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean));
  log(`start RSS ${(rssBytes(authz.proc.pid) / 1048576).toFixed(1)}`);
  const requests = eachToken(tokens);
  for (let r = 0; r < rounds; r++) {
    await interleave([{ name: 'a', pids: () => [authz.proc.pid], load: { url: `${authz.url}/auth`, connections: 50, requests } }], { rounds: 1, amount: n }, () => {});
    const m = await (await fetch(`http://127.0.0.1:${authz.metricsPort}/metrics`)).text();
    log(`after ${(r + 1) * n}: RSS ${(rssBytes(authz.proc.pid) / 1048576).toFixed(1)} MB`);
    for (const line of m.split('\n')) if (/^nodejs_heap_s(ize|pace_size_used)|^nodejs_external/.test(line)) log('  ' + line);
  }
  if (process.env.SNAP) {
    process.kill(authz.proc.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, Number(process.env.SNAP)));
    const m = await (await fetch(`http://127.0.0.1:${authz.metricsPort}/metrics`)).text();
    log(`after snapshot (full GC): RSS ${(rssBytes(authz.proc.pid) / 1048576).toFixed(1)} MB`);
    for (const line of m.split('\n')) if (/^nodejs_heap_s(ize|pace_size_used)/.test(line)) log('  ' + line);
  }
} finally {
  await ctx.close();
}
