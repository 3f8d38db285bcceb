import t from 'tap';
import { spawn } from 'node:child_process';
import { preflight, type Requirement } from '../support/preflight.js';

/** `npm test`'s own promises: every skip named before the closing line; the preflight's one line. */

function runTests(files: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // DATABASE_URL is set (the suite's Postgres), so the runner starts none of its own.
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', '--include', 'test/support/fixtures/*.fixture.ts', ...files], { env: process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('close', (code) => r({ code, stdout, stderr })));
}

t.test('the closing summary names every skipped test and every skipped file', { timeout: 120_000 }, async (t) => {
  const run = await runTests(['test/support/fixtures/skips.fixture.ts', 'test/support/fixtures/planned-zero.fixture.ts']);
  const tail = run.stdout.trimEnd().split('\n').slice(-4);
  t.same(tail, [
    '# skipped: test/support/fixtures/planned-zero.fixture.ts — prometheus NOT FOUND',
    '# skipped: test/support/fixtures/skips.fixture.ts: needs a thing — the thing is not installed',
    '# skipped: test/support/fixtures/skips.fixture.ts: group > later (todo) — not written yet',
    '3 passed, 0 failed, 3 skipped',
  ].sort((a, b) => run.stdout.indexOf(a) - run.stdout.indexOf(b)), 'the closing lines (files finish in any order)');
  t.equal(run.code, 0);
});

const req = (what: string, pkg: string, present: () => boolean): Requirement => ({ what, pkg, present });

t.test('preflight: nothing missing, nothing done', async (t) => {
  const calls: string[][] = [];
  t.same(preflight({ requirements: [req('nginx', 'nginx', () => true)], aptGet: (a) => (calls.push(a), 0) }), { ok: true, installed: [] });
  t.same(calls, []);
});

t.test('preflight as root with apt-get: one update, then one install of the missing packages, non-interactive', async (t) => {
  const installed = new Set<string>();
  const calls: string[][] = [];
  const reqs = [req('nginx', 'nginx', () => installed.has('nginx')), req('prometheus', 'prometheus', () => installed.has('prometheus')), req('promtool', 'prometheus', () => installed.has('prometheus')), req('curl', 'curl', () => true)];
  const result = preflight({ requirements: reqs, isRoot: true, hasAptGet: true, say: () => {}, aptGet: (args) => {
    calls.push(args);
    if (args[0] === 'install') for (const p of args.slice(4)) installed.add(p);
    return 0;
  } });
  t.same(result, { ok: true, installed: ['nginx', 'prometheus'] });
  t.same(calls, [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', 'nginx', 'prometheus']]);
});

t.test('preflight without root: stops with one line naming the exact command', async (t) => {
  const result = preflight({ requirements: [req('nginx', 'nginx', () => false), req('the NGINX set-misc module', 'libnginx-mod-http-set-misc', () => false)], isRoot: false, hasAptGet: true, aptGet: () => t.fail('must not run apt-get') as never });
  t.same(result, {
    ok: false,
    line: 'npm test needs nginx, the NGINX set-misc module: run `sudo apt-get update && sudo apt-get install -y --no-install-recommends nginx libnginx-mod-http-set-misc`, then npm test again',
  });
});

t.test('preflight: a failing apt-get is one line with the command to run by hand', async (t) => {
  const result = preflight({ requirements: [req('pgbouncer', 'pgbouncer', () => false)], isRoot: true, hasAptGet: true, say: () => {}, aptGet: (a) => (a[0] === 'update' ? 0 : 100) });
  t.same(result, { ok: false, line: 'npm test needs pgbouncer: apt-get failed (exit 100); run `apt-get update && apt-get install -y --no-install-recommends pgbouncer` and read its errors' });
});
