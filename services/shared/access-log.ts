import { hostname } from 'node:os';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { pino } from 'pino';
import type { LogLevel } from './config.js';
import type { LineSink } from './logging.js';

export interface AccessLogOptions {
  /** pino level of the one line per request; `silent` turns it off. */
  level: 'info' | 'debug' | 'silent';
  /** LOG_LEVEL: a line below it is not written (as pino would not). */
  logLevel?: LogLevel;
  /** Where the lines go (logging.ts `accessLineSink`: batched on stdout). */
  sink?: LineSink;
}

const SEVERITY: Record<string, number> = pino.levels.values;
/** Characters a JSON string must escape (and lone surrogates, which JSON.stringify escapes too). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal, as pino (and JSON.stringify) would write it. */
function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * The one `onResponse` hook per request: the HTTP latency histogram (metrics.ts `observeHttp`) and one
 * JSON line per request — method, route template, status, duration; never the raw URL's query string,
 * never a header value that could carry a credential. The line is written in a fixed shape, byte for
 * byte what pino writes for `log.info({ request_id, method, route, path, status, duration_ms, remote },
 * 'request')` (level, time, pid, hostname first; keys in that order): no generic serialiser, no
 * redaction walk (none of these keys is redacted) on the request path. The route is read once
 * (Fastify builds `req.routeOptions` afresh on every read).
 */
const accessLog: FastifyPluginAsync<AccessLogOptions> = async (app, opts) => {
  const level = opts.level;
  const threshold = level === 'silent' ? Infinity : SEVERITY[level]!;
  const sink = level !== 'silent' && threshold >= (SEVERITY[opts.logLevel ?? 'info'] ?? Infinity) ? opts.sink : undefined;
  const head = `{"level":${threshold},"time":`;
  const bindings = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())},"request_id":`;
  const observe = app.observeHttp;
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions;
    const url = route.url ?? 'unmatched';
    const elapsedMs = reply.elapsedTime;
    const status = reply.statusCode;
    observe(url, req.method, status, elapsedMs / 1000);
    // A route's own `logLevel` (e.g. warn for the probes) silences its line, as it would on `req.log`.
    if (sink === undefined || (route.logLevel && (SEVERITY[route.logLevel] ?? 0) > threshold)) return done();
    const rawUrl = req.url;
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const ms = Math.round(elapsedMs * 100) / 100;
    const remote = req.ip;
    sink.write(
      `${head}${Date.now()}${bindings}${jsonString(req.id)},"method":${jsonString(req.method)},"route":${jsonString(url)},"path":${jsonString(path)},"status":${status},"duration_ms":${Number.isFinite(ms) ? ms : 'null'}${remote === undefined ? '' : `,"remote":${jsonString(remote)}`},"msg":"request"}\n`,
    );
    done();
  });
};

export default fp(accessLog, { name: 'access-log', fastify: '5.x', dependencies: ['metrics'] });
