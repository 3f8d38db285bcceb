import fp from 'fastify-plugin';
import type { FastifyError, FastifyPluginAsync } from 'fastify';

/**
 * Errors a client caused keep their status and a short coded message; everything else is a 5xx whose
 * message never leaves the process (STYLE: no database error text to clients).
 */
const errorHandler: FastifyPluginAsync = async (app) => {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err: { code: err.code, name: err.name, message: err.message, stack: err.stack } }, 'request failed');
      const code = status === 503 ? 'service_unavailable' : 'internal_error';
      return reply.code(status).send({ error: code, message: status === 503 ? 'service temporarily unavailable' : 'internal error' });
    }
    const code = err.validation ? 'bad_request' : (err.code ?? 'bad_request').toLowerCase().replace(/^fst_err_/, '');
    req.log.info({ reason: code, status }, 'request refused');
    return reply.code(status).send({ error: code, message: err.validation ? 'malformed request' : err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: 'not found' }));
};

export default fp(errorHandler, { name: 'error-handler', fastify: '5.x' });
