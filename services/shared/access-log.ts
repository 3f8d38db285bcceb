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
 * A duration in ms rounded to hundredths, as JSON (and pino) writes `Math.round(ms * 100) / 100`, but
 * from integers only: a double's shortest decimal form costs several times more, on every request.
 * (For k < 2^30, the shortest decimal that reads back as k / 100 is k's own two-decimal form.)
 */
export function durationJson(elapsedMs: number): string {
  const hundredths = Math.round(elapsedMs * 100);
  if (!(hundredths >= 0 && hundredths < 0x40000000)) return Number.isFinite(hundredths) ? String(hundredths / 100) : 'null';
  const whole = Math.floor(hundredths / 100);
  const cents = hundredths - whole * 100;
  if (cents === 0) return String(whole);
  return cents % 10 === 0 ? `${whole}.${cents / 10}` : `${whole}.${cents < 10 ? '0' : ''}${cents}`;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The access-line writer (for a listener outside the router), null when lines are off. */
    accessLine: AccessLine | null;
  }
}

/** Writes one access line: what `onResponse` knows about an answered request. */
export type AccessLine = (requestId: string, method: string, route: string, rawUrl: string, status: number, elapsedMs: number, remote: string | undefined) => void;

/**
 * The access-line writer for these options, or undefined when no line is written (`silent`, or a
 * `LOG_LEVEL` above the line's level). The line is written in a fixed shape, byte for byte what pino
 * writes for `log.info({ request_id, method, route, path, status, duration_ms, remote }, 'request')`
 * (level, time, pid, hostname first; keys in that order): no generic serialiser, no redaction walk
 * (none of these keys is redacted) on the request path. Never the raw URL's query string, never a
 * header value that could carry a credential. Also used by the authz-service's front door
 * (authz-service/routes/front-door.ts), which answers `/auth` before Fastify's router.
 */
export function accessLineWriter(opts: AccessLogOptions): { line: AccessLine; threshold: number } | undefined {
  const threshold = opts.level === 'silent' ? Infinity : SEVERITY[opts.level]!;
  const sink = opts.level !== 'silent' && threshold >= (SEVERITY[opts.logLevel ?? 'info'] ?? Infinity) ? opts.sink : undefined;
  if (sink === undefined) return undefined;
  const head = `{"level":${threshold},"time":`;
  const bindings = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())},"request_id":`;
  // A busy replica writes many lines per millisecond: the time is turned into text once per millisecond.
  let now = 0;
  let time = '0';
  const line: AccessLine = (requestId, method, route, rawUrl, status, elapsedMs, remote) => {
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const t = Date.now();
    if (t !== now) time = String((now = t));
    sink.write(
      `${head}${time}${bindings}${jsonString(requestId)},"method":${jsonString(method)},"route":${jsonString(route)},"path":${jsonString(path)},"status":${status},"duration_ms":${durationJson(elapsedMs)}${remote === undefined ? '' : `,"remote":${jsonString(remote)}`},"msg":"request"}\n`,
    );
  };
  return { line, threshold };
}

/**
 * The one `onResponse` hook per request: the HTTP latency histogram (metrics.ts `observeHttp`) and the
 * access line. The route is read once (Fastify builds `req.routeOptions` afresh on every read).
 */
const accessLog: FastifyPluginAsync<AccessLogOptions> = async (app, opts) => {
  const writer = accessLineWriter(opts);
  app.decorate('accessLine', writer?.line ?? null);
  const observe = app.observeHttp;
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions;
    const url = route.url ?? 'unmatched';
    const elapsedMs = reply.elapsedTime;
    const status = reply.statusCode;
    observe(url, req.method, status, elapsedMs / 1000);
    // A route's own `logLevel` (e.g. warn for the probes) silences its line, as it would on `req.log`.
    if (writer === undefined || (route.logLevel && (SEVERITY[route.logLevel] ?? 0) > writer.threshold)) return done();
    writer.line(req.id, req.method, url, req.url, status, elapsedMs, req.ip);
    done();
  });
};

export default fp(accessLog, { name: 'access-log', fastify: '5.x', dependencies: ['metrics'] });
