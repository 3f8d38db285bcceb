import type { FastifyRequest } from 'fastify';
import { DatabaseUnavailableError, databaseFailure } from '../../shared/errors.js';

/**
 * A route's catch around its database calls: a DatabaseUnavailableError is logged (`<what>: database
 * unavailable`, with Postgres's code and message, never sent) and returned for the route's own 503 (its
 * metric, page or body); anything else — a programming error — is rethrown, for the error handler's 500.
 */
export function databaseUnavailable(req: FastifyRequest, err: unknown, what: string): DatabaseUnavailableError {
  if (!(err instanceof DatabaseUnavailableError)) throw err;
  req.log.error({ err: databaseFailure(err) }, `${what}: database unavailable`);
  return err;
}

/** The 503 body for programs; `consequence` says what did not happen ("no token was issued"). */
export function unavailableBody(consequence?: string): { error: 'service_unavailable'; message: string } {
  return { error: 'service_unavailable', message: consequence === undefined ? 'service temporarily unavailable' : `service temporarily unavailable; ${consequence}` };
}
