import { validateHeaderValue } from 'node:http';
import fp from 'fastify-plugin';
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';

/**
 * Drops what the failed handler left on the reply that must not go out with an error: every header Node
 * would refuse to write (an error thrown by writing them is what brought us here, and writing them again
 * would hand the reply to Fastify's default error body), and on a 5xx any redirect or cookie.
 */
function scrubHeaders(reply: FastifyReply, status: number): void {
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (status >= 500 && (name === 'location' || name === 'set-cookie')) {
      reply.removeHeader(name);
      continue;
    }
    try {
      for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) validateHeaderValue(name, String(v));
    } catch {
      reply.removeHeader(name);
    }
  }
}

/** The body of every 500 (also the authz-service's front door's): the message never leaves the process. */
export const INTERNAL_ERROR_BODY = { error: 'internal_error', message: 'internal error' } as const;
const UNAVAILABLE_BODY = { error: 'service_unavailable', message: 'service temporarily unavailable' } as const;

/**
 * Errors a client caused keep their status and a short coded message; everything else is a 5xx whose
 * message never leaves the process (no database error text ever reaches a client).
 */
const errorHandler: FastifyPluginAsync = async (app) => {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    scrubHeaders(reply, status);
    if (status >= 500) {
      req.log.error({ err: { code: err.code, name: err.name, message: err.message, stack: err.stack } }, 'request failed');
      return reply.code(status).send(status === 503 ? UNAVAILABLE_BODY : INTERNAL_ERROR_BODY);
    }
    const code = err.validation ? 'bad_request' : (err.code ?? 'bad_request').toLowerCase().replace(/^fst_err_/, '');
    req.log.info({ reason: code, status }, 'request refused');
    return reply.code(status).send({ error: code, message: err.validation ? 'malformed request' : err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: 'not found' }));
};

export default fp(errorHandler, { name: 'error-handler', fastify: '5.x' });
