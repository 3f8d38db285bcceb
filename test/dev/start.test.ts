import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The quick start as a user runs it: `npm start` with no environment brings both services to ready
 * within two minutes, and SIGTERM to its process group stops everything, Postgres included, within 20 s.
 */
t.test('npm start: both services ready, then SIGTERM to the group stops everything', { timeout: 180_000 }, async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'saml-authz-start-'));
  await chmod(state, 0o755); // the postgres system user (when run as root) must reach its data folder
  t.teardown(() => rm(state, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SAML_AUTHZ_DEV_DIR: state, LOG_LEVEL: 'warn' };
  const child = spawn('npm', ['start'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });

  const started = Date.now();
  const ready = async (url: string) => {
    for (;;) {
      try {
        if ((await fetch(url)).status === 200) return true;
      } catch {
        /* not yet */
      }
      if (Date.now() - started > 120_000) return false;
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  if (!(await ready('http://127.0.0.1:8080/readyz'))) t.fail(`token-service not ready; output:\n${output}`);
  t.ok(await ready('http://127.0.0.1:8081/readyz'), 'both services ready on 127.0.0.1:8080 and :8081');
  t.comment(`ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.equal((await fetch('http://127.0.0.1:9464/metrics')).status, 200, 'token-service metrics on 9464');
  t.equal((await fetch('http://127.0.0.1:9465/metrics')).status, 200, 'authz-service metrics on 9465');
  t.match(output, /saml-authz is running/);

  const stopAt = Date.now();
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
  const group = () => {
    try {
      return execFileSync('pgrep', ['-g', String(child.pid)], { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  while (group() !== '' && Date.now() - stopAt < 20_000) await new Promise((r) => setTimeout(r, 200));
  t.equal(group(), '', `every process of the group is gone (${((Date.now() - stopAt) / 1000).toFixed(1)} s)`);
  const postgres = execFileSync('sh', ['-c', `pgrep -af "[p]ostgres -D ${state}" || true`], { encoding: 'utf8' }).trim();
  t.equal(postgres, '', 'Postgres stopped');
  await t.rejects(fetch('http://127.0.0.1:8080/healthz'), 'nothing listens on 8080 any more');
});
