import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type pg from 'pg';
import { DatabaseUnavailableError } from '../errors.js';

const unavailable = (err: unknown): DatabaseUnavailableError =>
  new DatabaseUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });

/**
 * The pool as the services' Kysely sees it: whatever fails in Postgres or on the way to it (no
 * connection, a dropped one, a pool or query timeout, an error Postgres reports) comes out as a
 * DatabaseUnavailableError (503) with the original as its `cause`. Only the pool and the client are
 * wrapped, so an error thrown by the caller's own code — a refusal or a TypeError inside a transaction
 * callback — passes through untouched: a programming error stays a 500.
 */
export function codedPool(pool: pg.Pool): PostgresPool {
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => ({
    // Kysely runs parameterised queries only (no cursor streaming is configured).
    query: (async <R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> => {
      try {
        return (await client.query(sql, [...parameters])) as unknown as PostgresQueryResult<R>;
      } catch (err) {
        throw unavailable(err);
      }
    }) as PostgresPoolClient['query'],
    release: () => client.release(),
  });
  return {
    async connect() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw unavailable(err);
      }
      let wrapped = clients.get(client);
      if (wrapped === undefined) clients.set(client, (wrapped = wrap(client)));
      return wrapped;
    },
    end: () => pool.end(),
  };
}
