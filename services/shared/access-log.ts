import fp from 'fastify-plugin';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';

export interface AccessLogOptions {
  /** pino level of the one line per request; `silent` turns it off. */
  level: 'info' | 'debug' | 'silent';
  /** Where the lines go (logging.ts `accessLogger`: batched on stdout); the app's logger when absent. */
  logger?: FastifyBaseLogger;
}

/**
 * One JSON line per request: method, route template, status, duration. Never the raw URL's query
 * string, never a header value that could carry a credential.
 */
const accessLog: FastifyPluginAsync<AccessLogOptions> = async (app, opts) => {
  if (opts.level === 'silent') return;
  const level = opts.level;
  // Its own logger (logging.ts `accessLogger`: batched writes), the request id as a field: the line
  // is the one `req.log` would write.
  const log = opts.logger ?? app.log;
  const severity = (log as unknown as { levels: { values: Record<string, number> } }).levels.values;
  const threshold = severity[level]!;
  app.addHook('onResponse', (req, reply, done) => {
    // A route's own `logLevel` (e.g. warn for the probes) silences its line, as it would on `req.log`.
    const routeLevel = req.routeOptions.logLevel;
    if (routeLevel && (severity[routeLevel] ?? 0) > threshold) return done();
    log[level](
      {
        request_id: req.id,
        method: req.method,
        route: req.routeOptions.url ?? 'unmatched',
        path: req.url.split('?', 1)[0],
        status: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime * 100) / 100,
        remote: req.ip,
      },
      'request',
    );
    done();
  });
};

export default fp(accessLog, { name: 'access-log', fastify: '5.x' });
