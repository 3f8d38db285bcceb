import { Kysely, PostgresAdapter, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { codedPool } from './coded-pool.js';

export interface DbOptions {
  url: string;
  poolMax?: number;
  /** Milliseconds to wait for a connection before failing (fail closed, fast). */
  connectTimeoutMs?: number;
  /**
   * Milliseconds a query may take before the client gives up on it (pg's client-side `query_timeout`;
   * 0 = none). Client-side on purpose: a `statement_timeout` startup parameter is refused by a default
   * PgBouncer, and a session-level SET does not survive transaction pooling. Operators who also want the
   * server to cancel set it on the role (`ALTER ROLE … SET statement_timeout`), which every pooler honours.
   */
  queryTimeoutMs?: number;
  /**
   * Kysely's failures as DatabaseUnavailableError (coded-pool.ts), for the services' routes; the CLIs
   * and tests that open their own connection see the driver's errors as they are.
   */
  codedErrors?: boolean;
}

/**
 * Kysely's Postgres adapter holds a session-level advisory lock around migrations: through a
 * transaction-mode pooler the lock and the unlock can run on different server connections, and the lock
 * then stays held by a pooled connection. Migrations take a transaction-level lock instead (migrator.ts).
 */
class TransactionLockAdapter extends PostgresAdapter {
  override async acquireMigrationLock(): Promise<void> {}
  override async releaseMigrationLock(): Promise<void> {}
}

class PoolerSafeDialect extends PostgresDialect {
  override createAdapter(): PostgresAdapter {
    return new TransactionLockAdapter();
  }
}

export type QueryObserver = (seconds: number, ok: boolean) => void;

export interface Db {
  kysely: Kysely<Database>;
  pool: pg.Pool;
  /** Called after every Kysely query with its duration (the metrics plugin sets it). */
  observeQueries(observer: QueryObserver): void;
  destroy(): Promise<void>;
}

/**
 * Opens a pool and a typed Kysely instance over it. Pool errors (a dropped idle client) never crash.
 * Works through a transaction-mode pooler (PgBouncer, RDS Proxy, Supavisor): no startup parameter but
 * `application_name`, no session state (no session SET, advisory lock, LISTEN or temporary table),
 * unnamed statements only.
 */
export function connect(opts: DbOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    query_timeout: opts.queryTimeoutMs ?? 5000,
    application_name: 'saml-authz',
  });
  // A client whose server went away emits 'error': the pool listens only while the client is idle, so
  // a checked-out client (mid-transaction when Postgres restarts) needs its own listener or the process
  // dies of an unhandled 'error'. The failing query still rejects; the pool drops the client on release.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  let observer: QueryObserver | undefined;
  const kysely = new Kysely<Database>({
    dialect: new PoolerSafeDialect({ pool: opts.codedErrors === true ? codedPool(pool) : pool }),
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
