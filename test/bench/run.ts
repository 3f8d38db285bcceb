/**
 * `npm run bench [-- --quick] [-- --only 1,4]`: the benchmark suite of issue 8. Pins itself (the load
 * generator) to one core and every server to the other, starts Postgres when DATABASE_URL is unset,
 * runs each benchmark next to its baseline, prints one table and writes bench-results/<time>.json.
 * Needs `npm run build` first (the services run from dist/, as in the container) and `nginx` on PATH
 * for bench 2. See docs/performance.md.
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BenchContext } from './lib/context.js';
import { LOAD_CORE, pin } from './lib/proc.js';
import { table, writeJson, type CaseResult } from './lib/report.js';
import { hotPath } from './cases/hot.js';
import { throughNginx } from './cases/nginx.js';
import { coldPath } from './cases/cold.js';
import { policyScaling } from './cases/policy.js';
import { revocation } from './cases/revocation.js';
import { issuance } from './cases/issuance.js';
import { memory } from './cases/memory.js';
import { upstreamAssertion } from './cases/upstream.js';
import { renewal } from './cases/renewal.js';

const CASES: Record<string, (ctx: BenchContext) => Promise<CaseResult>> = {
  '1': hotPath,
  '2': throughNginx,
  '3': coldPath,
  '4': policyScaling,
  '5': revocation,
  '6': issuance,
  '7': memory,
  '8': upstreamAssertion,
  '9': renewal,
};

function parseArgs(argv: string[]): { quick: boolean; only: string[] } {
  let quick = false;
  let only = Object.keys(CASES);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--only') only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a.startsWith('--only=')) only = a.slice(7).split(',').filter(Boolean);
    else throw new Error(`unknown argument ${a} (known: --quick, --only 1,2,…)`);
  }
  for (const id of only) if (!CASES[id]) throw new Error(`no benchmark ${id} (known: ${Object.keys(CASES).join(', ')})`);
  return { quick, only };
}

function machine() {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    nproc: Number(execFileSync('nproc').toString().trim()),
    cpu: model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: execFileSync('uname', ['-r']).toString().trim(),
  };
}

async function main(): Promise<number> {
  const { quick, only } = parseArgs(process.argv.slice(2));
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const info = machine(); // before pinning: nproc counts the cores this process may use
  pin(process.pid, LOAD_CORE);
  const started = Date.now();
  log(`# saml-authz benchmarks (${quick ? 'quick' : 'full'}): ${info.nproc} cores, ${info.cpu}, ${info.memoryGiB} GiB, Node ${info.node}`);
  const ctx = await BenchContext.open(root, quick, log);
  const results: CaseResult[] = [];
  const failures: string[] = [];
  const stop = () => void ctx.close().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (const id of only) {
      const t0 = Date.now();
      log(`\n## ${id}`);
      try {
        const r = await CASES[id]!(ctx);
        results.push(r);
        log(`${table(r.rows)}\n(${Math.round((Date.now() - t0) / 1000)} s)`);
      } catch (err) {
        failures.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
        log(`benchmark ${id} failed: ${err instanceof Error ? err.stack : String(err)}`);
      } finally {
        await ctx.stopAll();
      }
    }
  } finally {
    await ctx.close();
  }
  const rows = results.flatMap((r) => r.rows);
  log(`\n# results (${Math.round((Date.now() - started) / 1000)} s)\n\n${table(rows)}\n`);
  const file = await writeJson(root, { time: new Date().toISOString(), mode: quick ? 'quick' : 'full', machine: info, rows, results, failures });
  log(`JSON: ${file}`);
  if (failures.length > 0) log(`failed: ${failures.join('; ')}`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
