/**
 * `npm test`: one command on a fresh machine. When DATABASE_URL is unset it starts a real embedded
 * Postgres for the run (each test file then creates and drops its own database on it), runs tap, stops
 * Postgres, and prints a closing "N passed, N failed" line. Arguments are passed to tap.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startEmbeddedPostgres, type EmbeddedPg } from '../services/shared/embedded-postgres.js';
import { scanLogs } from './support/log-scan.js';

async function main(): Promise<number> {
  let pg: EmbeddedPg | undefined;
  let dataDir: string | undefined;
  const env = { ...process.env };
  if (!env.DATABASE_URL) {
    dataDir = await mkdtemp(join(tmpdir(), 'saml-authz-test-pg-'));
    pg = await startEmbeddedPostgres({ dataDir, persistent: false });
    env.DATABASE_URL = pg.adminUrl;
    process.stdout.write(`# embedded Postgres on 127.0.0.1:${pg.port} for this run\n`);
  }
  env.TEST_ADMIN_DATABASE_URL = env.DATABASE_URL;
  const logDir = await mkdtemp(join(tmpdir(), 'saml-authz-test-logs-'));
  env.TEST_LOG_DIR = logDir;
  try {
    const tap = await runTap(process.argv.slice(2), env);
    // Every log line the services wrote during the suite: never a token, a cookie or a SAML document.
    const scan = await scanLogs(logDir);
    const clean = scan.findings.length === 0;
    process.stdout.write(`# log scan: ${scan.lines} log lines from ${scan.files} processes${clean ? ': no token, cookie or SAML document' : ''}\n`);
    for (const finding of scan.findings.slice(0, 20)) process.stdout.write(`#   FOUND ${finding}\n`);
    tap.passed += clean ? 1 : 0;
    tap.failed += clean ? 0 : 1;
    process.stdout.write(`\n${tap.passed} passed, ${tap.failed} failed${tap.skipped ? `, ${tap.skipped} skipped` : ''}\n`);
    return tap.code !== 0 || !clean ? 1 : 0;
  } finally {
    await pg?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await rm(logDir, { recursive: true, force: true });
  }
}

/** Runs tap, echoing its output, and counts the leaf results of every file. */
function runTap(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; passed: number; failed: number; skipped: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join('node_modules', 'tap', 'dist', 'esm', 'run.mjs'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const lines = createInterface({ input: child.stdout });
    let failedInFile = 0;
    lines.on('line', (line) => {
      process.stdout.write(`${line}\n`);
      // Count the tests of each file (points indented one level); a file that failed without a
      // failing test (a crash, a time-out) counts as one failure.
      const m = /^( {4})?(not ok|ok) \d+ - .*?(# (SKIP|TODO).*)?$/.exec(line);
      if (!m) return;
      if (m[1] === undefined) {
        if (m[2] === 'not ok' && failedInFile === 0) failed++;
        failedInFile = 0;
      } else if (m[4]) skipped++;
      else if (m[2] === 'ok') passed++;
      else {
        failed++;
        failedInFile++;
      }
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('close', (code) => resolve({ code: code ?? 1, passed, failed, skipped }));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test run failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
