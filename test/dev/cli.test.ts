import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase } from '../helpers/db.js';
import { spawn } from 'node:child_process';

/** The operator commands a new user meets first: help, typos, a destructive `down`, the dev database. */

const MIGRATE = 'services/shared/db/migrate-cli.ts';
const REVOKE = 'services/token-service/cli/revoke.ts';
const POLICY = 'services/authz-service/cli/policy.ts';

/** Runs a CLI entry point as `npm run` does (tsx), with only this environment, to completion. */
function runToExit(entry: string, env: Record<string, string>, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

async function tables(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' order by 1");
    return r.rows.map((x) => x.table_name);
  } finally {
    await c.end();
  }
}

async function devDir(t: { teardown(fn: () => unknown): void }, url: string | null): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dev-state-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  if (url) await writeFile(join(dir, 'database-url'), `${url}\n`, { mode: 0o600 });
  return dir;
}

t.test('--help prints the usage and exits 0 on all three CLIs', async (t) => {
  for (const [entry, args, text] of [[MIGRATE, ['--help'], /^usage: npm run migrate/], [REVOKE, ['--help'], /^usage: npm run revoke/], [POLICY, ['--help'], /^usage:\n  policy --help/], [POLICY, ['lint', '--help'], /^usage:/]] as const) {
    const run = await runToExit(entry, {}, [...args]);
    t.equal(run.code, 0, `${entry} ${args.join(' ')}: exit 0`);
    t.match(run.stdout + run.stderr, text, `${entry} ${args.join(' ')}: usage`);
    t.notMatch(run.stdout + run.stderr, /DATABASE_URL: required/, 'no database needed for help');
  }
});

t.test('migrate: an unknown command is a usage error (exit 2), never a silent up', async (t) => {
  const db = await createTestDatabase(t, { migrate: false });
  for (const args of [['dwon'], ['up', 'extra'], ['up', '--yes']]) {
    const run = await runToExit(MIGRATE, { DATABASE_URL: db.url }, args);
    t.equal(run.code, 2, `${args.join(' ')}: exit 2`);
    t.match(run.stderr, /^migrate: (unknown command "dwon"|unexpected "extra"|--yes only goes with down)\nusage: npm run migrate/);
  }
  t.same(await tables(db.url), [], 'nothing was migrated');
});

t.test('migrate down without --yes and without a terminal reverts nothing; with --yes it reverts the newest', async (t) => {
  const db = await createTestDatabase(t);
  const before = await tables(db.url);
  t.ok(before.includes('issued_tokens'), `migrated: ${before.join(', ')}`);
  const refused = await runToExit(MIGRATE, { DATABASE_URL: db.url }, ['down']);
  t.equal(refused.code, 1);
  t.equal(refused.stderr, 'migrate: down drops tables and their data: add --yes to confirm (no terminal to ask on)\n');
  t.same(await tables(db.url), before, 'every table is still there');
  const done = await runToExit(MIGRATE, { DATABASE_URL: db.url }, ['down', '--yes']);
  t.equal(done.code, 0, done.stderr);
  t.match(done.stdout, /^Success +down 0003_sessions$/m);
  const after = await tables(db.url);
  t.notOk(after.includes('sessions'), 'the newest migration is reverted');
  t.ok(after.includes('issued_tokens'), 'and only it');
});

t.test('with DATABASE_URL unset the CLIs use the database of a running npm start, and say so on stderr', async (t) => {
  const db = await createTestDatabase(t, { migrate: false });
  const dir = await devDir(t, db.url);
  const said = new RegExp(`DATABASE_URL is unset: using the dev database of \`npm start\` \\(${dir}/database-url\\): postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/${db.name}`);
  const up = await runToExit(MIGRATE, { SAML_AUTHZ_DEV_DIR: dir }, []);
  t.equal(up.code, 0, up.stderr);
  t.match(up.stderr, said, 'migrate says which database');
  t.notMatch(up.stderr, /postgres:postgres@/, 'without its password');
  t.ok((await tables(db.url)).includes('issued_tokens'), 'and migrated that one');
  const revoke = await runToExit(REVOKE, { SAML_AUTHZ_DEV_DIR: dir }, ['--jti', 'no-such-token']);
  t.match(revoke.stderr, said, 'revoke says which database');
  t.notMatch(revoke.stderr, /DATABASE_URL: required|ECONNREFUSED/, 'and reached it');
});

t.test('with DATABASE_URL unset and no npm start running: an error naming both', async (t) => {
  const dir = await devDir(t, null);
  const run = await runToExit(MIGRATE, { SAML_AUTHZ_DEV_DIR: dir }, []);
  t.equal(run.code, 1);
  t.match(run.stderr, `DATABASE_URL: required (and no running \`npm start\` found: ${dir}/database-url does not exist)`);
  const prod = await runToExit(MIGRATE, { SAML_AUTHZ_DEV_DIR: await devDir(t, 'postgres://x:y@127.0.0.1:1/z'), NODE_ENV: 'production' }, []);
  t.equal(prod.code, 1);
  t.match(prod.stderr, /DATABASE_URL: required/, 'production never falls back to a dev database');
});
