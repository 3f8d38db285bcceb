/**
 * `npm test`: one command on a fresh machine. It first checks the system packages the suite needs
 * (test/support/preflight.ts: installs them as root with apt-get, else stops with one line naming the
 * command). When DATABASE_URL is unset it starts a real embedded Postgres for the run (each test file
 * then creates and drops its own database on it), runs tap, stops Postgres, and closes with
 * "N passed, N failed[, N skipped]", every skipped test named on a `# skipped:` line before it.
 * Arguments are passed to tap.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EmbeddedPgError, startEmbeddedPostgres, type EmbeddedPg } from '../services/shared/embedded-postgres.js';
import { scanLogs } from './support/log-scan.js';
import { preflight } from './support/preflight.js';

async function main(): Promise<number> {
  const ready = preflight();
  if (!ready.ok) {
    process.stderr.write(`${ready.line}\n`);
    return 1;
  }
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
    process.stdout.write('\n');
    for (const name of tap.skips) process.stdout.write(`# skipped: ${name}\n`);
    process.stdout.write(`${tap.passed} passed, ${tap.failed} failed${tap.skips.length ? `, ${tap.skips.length} skipped` : ''}\n`);
    return tap.code !== 0 || !clean ? 1 : 0;
  } finally {
    await pg?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await rm(logDir, { recursive: true, force: true });
  }
}

/** Runs tap, echoing its output, and counts the leaf results of every file; names every skip. */
function runTap(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; passed: number; failed: number; skips: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join('node_modules', 'tap', 'dist', 'esm', 'run.mjs'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let passed = 0;
    let failed = 0;
    const skips: string[] = [];
    const lines = createInterface({ input: child.stdout });
    let failedInFile = 0;
    let file = '';
    const subtests: string[] = [];
    lines.on('line', (line) => {
      process.stdout.write(`${line}\n`);
      const sub = /^((?: {4})*)# Subtest: (.*)$/.exec(line);
      if (sub) {
        const depth = sub[1]!.length / 4;
        subtests.length = depth;
        subtests[depth] = sub[2]!;
        if (depth === 0) file = sub[2]!;
        return;
      }
      // A skip (or todo) at any depth, a whole file's included, is named in the summary.
      const skip = /^((?: {4})*)(?:not ok|ok) \d+ - (.*?) # (SKIP|TODO)\b:? ?(.*)$/.exec(line);
      if (skip) {
        const depth = skip[1]!.length / 4;
        const path = [...subtests.slice(depth === 0 ? 0 : 1, depth), skip[2]!].filter((p, i, a) => i === 0 || p !== a[i - 1]);
        skips.push(`${depth === 0 ? '' : `${file}: `}${path.join(' > ')}${skip[3] === 'TODO' ? ' (todo)' : ''}${skip[4] ? ` — ${skip[4]}` : ''}`);
      }
      // Count the tests of each file (points indented one level); a file that failed without a
      // failing test (a crash, a time-out) counts as one failure.
      const m = /^( {4})?(not ok|ok) \d+ - .*?(# (SKIP|TODO).*)?$/.exec(line);
      if (!m) return;
      if (m[1] === undefined) {
        if (m[2] === 'not ok' && failedInFile === 0) failed++;
        failedInFile = 0;
      } else if (m[4]) {
        /* named above */
      } else if (m[2] === 'ok') passed++;
      else {
        failed++;
        failedInFile++;
      }
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('close', (code) => resolve({ code: code ?? 1, passed, failed, skips }));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A Postgres that cannot start is one line that says why; anything else is a bug: its stack.
    process.stderr.write(err instanceof EmbeddedPgError ? `npm test: embedded Postgres: ${err.message}\n` : `test run failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
