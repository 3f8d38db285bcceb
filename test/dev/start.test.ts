import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../services/shared/embedded-postgres.js';

/**
 * The quick start as a user runs it: `npm start` with no environment brings both services to ready,
 * prints commands that work as printed, finds a second `npm start` and names what holds its ports, and
 * SIGTERM to its process group stops everything, Postgres included. It runs on free ports
 * (SAML_AUTHZ_DEV_PORTS), so `npm test` works while a developer's own `npm start` runs.
 */

function collect(child: ReturnType<typeof spawn>) {
  const out = { text: '' };
  child.stdout!.on('data', (d: Buffer) => (out.text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out.text += d.toString()));
  return out;
}

/** start.ts itself (what `npm start` runs after building the services), to completion. */
function runStart(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/dev/start.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(child);
  return new Promise((r) => child.on('close', (code) => r({ code, output: out.text })));
}

t.test('npm start: ready on its ports, banner commands work as printed, one stack per folder, SIGTERM to the group stops everything', { timeout: 240_000 }, async (t) => {
  // As a container user has it: the repository's .dev in a folder only root can enter (mkdtemp is 0700).
  const state = await mkdtemp(join(tmpdir(), 'saml-authz-start-'));
  t.teardown(() => rm(state, { recursive: true, force: true }));
  const [idp, token, authz, tokenMetrics, authzMetrics] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const portList = [idp, token, authz, tokenMetrics, authzMetrics].join(',');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SAML_AUTHZ_DEV_DIR: state, SAML_AUTHZ_DEV_PORTS: portList, LOG_LEVEL: 'info' };
  const child = spawn('npm', ['start'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(child);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });

  const started = Date.now();
  while (!out.text.includes('Ctrl-C stops everything.') && child.exitCode === null && Date.now() - started < 180_000) await new Promise((r) => setTimeout(r, 250));
  if (!t.match(out.text, /saml-authz is running/, 'the banner is printed once everything is ready')) return t.comment(out.text);
  t.comment(`ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const [port, what] of [[token, 'token-service'], [authz, 'authz-service']] as const) t.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200, `${what} ready on ${port}`);
  t.equal((await fetch(`http://127.0.0.1:${tokenMetrics}/metrics`)).status, 200, 'token-service metrics');
  t.equal((await fetch(`http://127.0.0.1:${authzMetrics}/metrics`)).status, 200, 'authz-service metrics');
  const dataDir = /data in (\S+)\)\./.exec(out.text)?.[1] ?? '';
  if (process.getuid?.() === 0) {
    t.match(dataDir, /^\/var\/lib\/saml-authz\/data\/postgres-[0-9a-f]{12}$/, 'as root from a root-only folder: the data is where the postgres user reaches it');
    t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  } else t.equal(dataDir, join(state, 'postgres'), 'the data is in .dev/postgres');
  t.match(out.text, /^\[token-service\] \{"level":30,/m, 'not a terminal: the services log JSON lines as they are');

  // The database, for the CLIs: printed, and in .dev/database-url while the stack runs.
  const printed = /^ {2}DATABASE_URL {4}(postgres:\/\/\S+)/m.exec(out.text)?.[1];
  t.match(printed, /^postgres:\/\/postgres:postgres@127\.0\.0\.1:\d+\/saml_authz$/, 'the banner prints DATABASE_URL');
  t.equal(readFileSync(join(state, 'database-url'), 'utf8').trim(), printed, '.dev/database-url holds the same URL');

  // The banner's commands, run as printed with the real curl: sign in, allowed, signed out.
  const lines = out.text.split('\n');
  const from = lines.findIndex((l) => l.startsWith('Try it'));
  const commands = lines.slice(from + 1, lines.indexOf('', from)).map((l) => l.replace(/^ {2}/, ''));
  t.equal(commands.length, 4, 'four commands');
  const shell = execFileSync('sh', ['-ec', commands.join('\n')], { encoding: 'utf8', env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.match(shell, /^HTTP\/1\.1 200 OK\r?$/m, '/auth allows the signed-in user');
  t.match(shell, /^x-auth-request-user: alice@example\.com\r?$/im, 'as alice@example.com');
  t.match(shell, /^HTTP\/1\.1 204 No Content\r?$/m, 'logout revokes the token');
  t.notMatch(out.text, /not UTF-8|saml_malformed/, 'the token-service accepted the response');

  // A second npm start on the same folder, and one on another folder with the same ports: one line each.
  const again = await runStart(env);
  t.equal(again.code, 1);
  t.equal(again.output, `npm start: npm start is already running (pid ${readFileSync(join(state, 'npm-start.pid'), 'utf8').trim()}, state in ${state}): use it, or stop it first (Ctrl-C in its terminal, or kill ${readFileSync(join(state, 'npm-start.pid'), 'utf8').trim()})\n`);
  const other = await mkdtemp(join(tmpdir(), 'saml-authz-start-'));
  t.teardown(() => rm(other, { recursive: true, force: true }));
  const clash = await runStart({ ...env, SAML_AUTHZ_DEV_DIR: other });
  t.equal(clash.code, 1);
  t.match(clash.output, new RegExp(`^npm start: port ${idp} \\(dev IdP\\) is already in use by pid \\d+ \\(\\S*node .*services/dev/start\\.ts\\)\\n$`), 'names the port, the process and its command');
  t.notOk(existsSync(join(other, 'postgres')), 'and started nothing');

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
  const postgres = execFileSync('sh', ['-c', 'pgrep -af "[p]ostgres -D" || true'], { encoding: 'utf8' }).trim();
  t.notOk(postgres.includes(`-D ${dataDir} `), 'Postgres stopped');
  await t.rejects(fetch(`http://127.0.0.1:${token}/healthz`), `nothing listens on ${token} any more`);
  t.same((await readdir(state)).filter((f) => f === 'database-url' || f === 'npm-start.pid'), [], 'database-url and the pid file are removed');
});

t.test('NODE_ENV=production: npm start refuses, with one line, and starts nothing', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'saml-authz-start-'));
  t.teardown(() => rm(state, { recursive: true, force: true }));
  const run = await runStart({ PATH: process.env.PATH, NODE_ENV: 'production', SAML_AUTHZ_DEV_DIR: state });
  t.equal(run.code, 1);
  t.equal(run.output.split('\n').length, 2, 'one line');
  t.match(run.output, /^npm start: refused with NODE_ENV=production: it runs a development IdP that signs in anyone as anyone\./);
  t.same(await readdir(state), [], 'no database, no keys, no pid file');
});
