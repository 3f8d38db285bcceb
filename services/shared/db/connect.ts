import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export interface DbOptions {
  url: string;
  poolMax?: number;
  /** Milliseconds to wait for a connection before failing (fail closed, fast). */
  connectTimeoutMs?: number;
  /** Milliseconds a statement may run before Postgres cancels it. */
  statementTimeoutMs?: number;
}

export type QueryObserver = (seconds: number, ok: boolean) => void;

export interface Db {
  kysely: Kysely<Database>;
  pool: pg.Pool;
  /** Called after every Kysely query with its duration (the metrics plugin sets it). */
  observeQueries(observer: QueryObserver): void;
  destroy(): Promise<void>;
}

/** Opens a pool and a typed Kysely instance over it. Pool errors (a dropped idle client) never crash. */
export function connect(opts: DbOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    statement_timeout: opts.statementTimeoutMs ?? 5000,
    application_name: 'saml-authz',
  });
  // A client whose server went away emits 'error': the pool listens only while the client is idle, so
  // a checked-out client (mid-transaction when Postgres restarts) needs its own listener or the process
  // dies of an unhandled 'error'. The failing query still rejects; the pool drops the client on release.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  let observer: QueryObserver | undefined;
  const kysely = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => observer?.(event.queryDurationMillis / 1000, event.level === 'query'),
  });
  let destroyed: Promise<void> | undefined;
  return {
    kysely,
    pool,
    observeQueries: (fn) => {
      observer = fn;
    },
    destroy: () => (destroyed ??= kysely.destroy()),
  };
}
