import { spawn } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { findBinary } from './binaries.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface PgBouncer {
  /** `postgres://` URL of `database` through the pooler (same user and password as `upstreamUrl`). */
  urlFor(database: string): string;
  readonly port: number;
  /** Everything PgBouncer logged (start-up, refused startup parameters, …). */
  readonly log: string[];
}

/** The one line a machine without PgBouncer gets: a failure, never a silent skip. */
export const PGBOUNCER_MISSING = 'pgbouncer not found: install it with `apt-get install -y pgbouncer` (Debian package pgbouncer, 1.18 or later)';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A real PgBouncer (the Debian package) in front of the test Postgres, in `pool_mode = transaction`
 * with every other setting at its default (so `ignore_startup_parameters` is empty: it refuses what a
 * default PgBouncer refuses). Listens on 127.0.0.1 on a free port; runs as the `postgres` system user
 * when the test runs as root (PgBouncer refuses root). Stopped when the test ends.
 */
export async function startPgBouncer(t: Teardown, upstreamUrl: string, opts: { poolSize?: number } = {}): Promise<PgBouncer> {
  const binary = findBinary('pgbouncer');
  if (!binary) throw new Error(PGBOUNCER_MISSING);
  const upstream = new URL(upstreamUrl);
  const user = decodeURIComponent(upstream.username);
  const password = decodeURIComponent(upstream.password);
  const dir = await mkdtemp(join(tmpdir(), 'pgbouncer-'));
  const port = await freePort();
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  await writeFile(join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`, { mode: 0o600 });
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || '5432'}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = plain',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${opts.poolSize ?? 10}`,
      'max_client_conn = 500',
      'pidfile =',
      'logfile =',
      '',
    ].join('\n'),
  );
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    for (const f of ['', 'userlist.txt', 'pgbouncer.ini']) await chown(join(dir, f), uid, gid);
  }
  const child = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pgbouncer did not listen within 10 s:\n${log.join('\n')}`)), 10_000);
    const onLine = (line: string) => {
      log.push(line);
      if (line.includes(`listening on 127.0.0.1:${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pgbouncer exited with ${code} while starting:\n${log.join('\n')}`));
    });
  });
  return {
    port,
    log,
    urlFor(database: string) {
      const u = new URL(upstreamUrl);
      u.port = String(port);
      u.pathname = `/${database}`;
      return u.toString();
    },
  };
}
