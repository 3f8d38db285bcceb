/**
 * Without Chromium the browser suite fails with one line that says what to install: never a skip,
 * never a stack started for nothing. (npm test's preflight installs `chromium` as root, or stops with
 * the apt-get command, before any file runs: this is the suite run on its own, e.g. by tap directly.)
 */
import t from 'tap';
import { spawn } from 'node:child_process';

const runSuite = (file: string, env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; stdout: string; ms: number }>((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.resume();
    child.on('close', (code) => resolve({ code, stdout, ms: Date.now() - started }));
  });

for (const file of ['test/browser/auth-request.test.ts', 'test/browser/ingress-nginx.test.ts', 'test/browser/demo.test.ts']) {
  t.test(`${file} with no Chromium: one failing line, nothing started`, async (t) => {
    const r = await runSuite(file, { PATH: process.env.PATH, HOME: process.env.HOME, CHROMIUM_BINARY: '/nonexistent/chromium' });
    t.equal(r.code, 1, 'exit code 1');
    const results = r.stdout.split('\n').filter((l) => /^\s*(not )?ok \d+/.test(l));
    t.same(results, ['not ok 1 - BROWSER SUITE NOT RUN: CHROMIUM_BINARY=/nonexistent/chromium does not exist'], 'one result: a failure that names what is missing');
    t.notMatch(r.stdout, /# SKIP|stack up/, 'no skip, no stack');
    t.comment(`${r.ms} ms`);
  });
}
