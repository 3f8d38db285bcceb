import createError from '@fastify/error';

/** Coded errors: the error handler branches on `code`, never on message text. */
export const RateLimitedError = createError<[number]>('RATE_LIMITED', 'rate limit exceeded; retry in %s s', 429);

/**
 * Postgres failed or could not be reached (db/coded-pool.ts): no connection, a dropped one, a query
 * timeout, an error Postgres reported. The original is its `cause` (for the log); the client only ever
 * sees a 503 `service_unavailable`.
 */
export const DatabaseUnavailableError = createError<[message: string, options: { cause: unknown }]>('DATABASE_UNAVAILABLE', 'database unavailable: %s', 503);
export type DatabaseUnavailableError = InstanceType<typeof DatabaseUnavailableError>;

/** What a log line says of a database failure: the driver's or Postgres's code and message, never sent to a client. */
export function databaseFailure(err: DatabaseUnavailableError): { code: string | undefined; message: string } {
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  return { code: typeof cause?.code === 'string' ? cause.code : undefined, message: typeof cause?.message === 'string' ? cause.message : err.message };
}
