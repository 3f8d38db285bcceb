import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyServerFactory, type FastifyInstance, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { CommonConfig } from './config.js';
import { accessLineSink, loggerOptions } from './logging.js';
import dbPlugin from './db/plugin.js';
import errorHandler from './error-handler.js';
import metricsPlugin from './metrics.js';
import health from './health.js';
import accessLog, { type AccessLogOptions } from './access-log.js';

/** A service's app: schemas are TypeBox, so routes get their bodies and querystrings typed from them. */
export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface BaseOptions {
  config: Pick<CommonConfig, 'databaseUrl' | 'databasePoolMax' | 'logLevel'> & Partial<Pick<CommonConfig, 'logBufferBytes'>>;
  accessLog: AccessLogOptions['level'];
  /** Allowed answers of the given routes get a line one in N (access-log.ts `sampleAllowed`). */
  accessLogSample?: AccessLogOptions['sampleAllowed'];
  /** Where log lines go (tests capture them); stdout when absent. */
  logStream?: NodeJS.WritableStream;
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
  /** A listener that may answer a request before Fastify's router (the authz-service's `/auth`). */
  frontDoor?: FrontDoor;
}

/** Set once the app's routes exist; returns false for every request it leaves to Fastify. */
export interface FrontDoor {
  handle: ((req: IncomingMessage, res: ServerResponse) => boolean) | null;
}

/**
 * What both services share: logging with redaction, coded errors, the database, metrics on their own
 * registry, health and readiness, one access-log line per request.
 */
export async function buildBaseApp(opts: BaseOptions): Promise<App> {
  const app = Fastify({
    ...loggerOptions(opts.config.logLevel, opts.logStream),
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    // Kubernetes sends traffic until endpoints update: keep-alive sockets close when idle on shutdown.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    trustProxy: false,
    serverFactory: frontDoorServer(opts.frontDoor ?? { handle: null }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  // The server ends a request's body stream at once when it has no Content-Length or Transfer-Encoding
  // (frontDoorServer, optimizeEmptyRequests): a body parser, run for a Content-Type, would wait for an
  // 'end' that was never emitted. It reads an empty body instead, as it would without the option.
  app.addHook('preParsing', (req, _reply, payload, done) => {
    done(null, payload === req.raw && req.raw.readableEnded && req.headers['content-type'] !== undefined ? Readable.from([]) : payload);
  });
  await app.register(errorHandler);
  await app.register(dbPlugin, { url: opts.config.databaseUrl, poolMax: opts.config.databasePoolMax });
  await app.register(metricsPlugin);
  await app.register(health);
  // One onResponse hook: the latency histogram and the access line. Access lines in batches
  // (LOG_BUFFER_BYTES; flushed every second and at exit), or to the test's stream.
  const sink = opts.accessLog === 'silent' ? undefined : accessLineSink(opts.logStream, opts.config.logBufferBytes ?? 0);
  await app.register(accessLog, {
    level: opts.accessLog,
    logLevel: opts.config.logLevel,
    ...(sink ? { sink } : {}),
    ...(opts.accessLogSample ? { sampleAllowed: opts.accessLogSample } : {}),
  });
  return app;
}

/**
 * Fastify's own HTTP/1 server (its timeouts as Fastify sets them) whose request listener asks the
 * front door first. Fastify's `inject` (the tests' requests) goes to the router directly; tests reach
 * the front door through the server's listener (test/helpers/authz.ts).
 */
function frontDoorServer(door: FrontDoor): FastifyServerFactory {
  return (router, options) => {
    // optimizeEmptyRequests: a request without Content-Length or Transfer-Encoding (no body: every
    // `/auth`, every GET) starts with its body stream already ended, so Node runs no stream events and
    // no dump for it; nothing here reads such a body or waits for its 'end' or 'close'. Which means, for
    // such a request: no 'close' or 'aborted' when the client goes away, and `req.signal` is aborted
    // from the start, so Fastify's `request.signal`, `handlerTimeout` and `onRequestAbort` do not work
    // for it. The services use none of them; a route that needs to notice a client leaving must watch
    // the socket (or this option must go).
    const server = createServer({ optimizeEmptyRequests: true }, (req, res) => {
      if (door.handle === null || !door.handle(req, res)) router(req, res);
    });
    // Fastify has filled in its defaults (its options are typed loosely here).
    server.keepAliveTimeout = Number(options.keepAliveTimeout);
    server.requestTimeout = Number(options.requestTimeout);
    server.setTimeout(Number(options.connectionTimeout));
    if (Number(options.maxRequestsPerSocket) > 0) server.maxRequestsPerSocket = Number(options.maxRequestsPerSocket);
    return server;
  };
}
