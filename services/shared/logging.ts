import { randomUUID } from 'node:crypto';
import { LogController, type FastifyServerOptions } from 'fastify';
import type { LogLevel } from './config.js';

/**
 * Paths pino removes from every log line. Tokens, cookies and SAML documents never reach a log:
 * request logging is our own (see access-log.ts) and never serialises bodies, and these paths catch
 * any object that carries them anyway.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'body.SAMLResponse',
  'SAMLResponse',
  'token',
  'access_token',
  'cookie',
];

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify logger and request-id options shared by both services. */
export function loggerOptions(level: LogLevel, destination?: NodeJS.WritableStream): Pick<
  FastifyServerOptions,
  'logger' | 'genReqId' | 'logController'
> {
  return {
    logger: {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      ...(destination ? { stream: destination } : {}),
    } as FastifyServerOptions['logger'],
    // An upstream request id is kept when it is well-formed (it ties our line to NGINX's), else a new one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Fastify's own two lines per request are off: access-log.ts writes one line per request.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
  };
}
