import { hostname } from 'node:os';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { pino } from 'pino';
import type { LogLevel } from './config.js';
import type { InPlaceLineSink, LineSink } from './logging.js';

export interface AccessLogOptions {
  /** pino level of the one line per request; `silent` turns it off. */
  level: 'info' | 'debug' | 'silent';
  /** LOG_LEVEL: a line below it is not written (as pino would not). */
  logLevel?: LogLevel;
  /** Where the lines go (logging.ts `accessLineSink`: batched on stdout). */
  sink?: LineSink | InPlaceLineSink;
  /**
   * One line per `every` 200 answers of these routes together (the first, then every `every`th): the
   * authz-service's allowed decisions (ACCESS_LOG_ALLOWED_SAMPLE). Every other answer of those routes,
   * and of every other route, gets its line. Absent or 1: every answer.
   */
  sampleAllowed?: { routes: ReadonlySet<string>; every: number };
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
  const inPlace = takesBytes(sink) ? inPlaceLine(sink, head, bindings) : undefined;
  const sampled = opts.sampleAllowed !== undefined && opts.sampleAllowed.every > 1 ? opts.sampleAllowed : undefined;
  let skip = 0; // sampled answers to pass over before the next line
  const line: AccessLine = (requestId, method, route, rawUrl, status, elapsedMs, remote) => {
    if (status === 200 && sampled?.routes.has(route)) {
      if (skip > 0) return void skip--;
      skip = sampled.every - 1;
    }
    const q = rawUrl.indexOf('?');
    const t = Date.now();
    if (t !== now) time = String((now = t));
    if (inPlace?.(time, requestId, method, route, rawUrl, q < 0 ? rawUrl.length : q, status, elapsedMs, remote)) return;
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    sink.write(
      `${head}${time}${bindings}${jsonString(requestId)},"method":${jsonString(method)},"route":${jsonString(route)},"path":${jsonString(path)},"status":${status},"duration_ms":${durationJson(elapsedMs)}${remote === undefined ? '' : `,"remote":${jsonString(remote)}`},"msg":"request"}\n`,
    );
  };
  return { line, threshold };
}

const takesBytes = (sink: LineSink | InPlaceLineSink): sink is InPlaceLineSink => 'claim' in sink;

/** The bytes of a line's fixed parts (UTF-8: the host name could be anything). */
const bytesOf = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const METHOD = bytesOf('","method":"');
const ROUTE = bytesOf('","route":"');
const PATH = bytesOf('","path":"');
const STATUS = bytesOf('","status":');
const DURATION = bytesOf(',"duration_ms":');
const REMOTE = bytesOf(',"remote":"');
const END_QUOTED = bytesOf('","msg":"request"}\n');
const END = bytesOf(',"msg":"request"}\n');

/**
 * The access line encoded straight into the batch buffer, when every field is plain (printable ASCII
 * that JSON writes as itself: what a request id, a method, a route, a client address and almost every
 * path are): no string per line built, flattened and encoded. Field by field what the string form
 * writes (the same number forms: `String(status)`, `durationJson`), so the same bytes (tested); false
 * when a field needs escaping or UTF-8, or the line would not fit the buffer: the caller then writes
 * the string form, and whatever was copied here is overwritten by the next line.
 */
function inPlaceLine(sink: InPlaceLineSink, head: string, bindings: string) {
  const start = bytesOf(head);
  const middle = bytesOf(`${bindings}"`);
  const fixed = start.length + middle.length + METHOD.length + ROUTE.length + PATH.length + STATUS.length + DURATION.length + REMOTE.length + END_QUOTED.length;
  return (time: string, requestId: string, method: string, route: string, url: string, pathEnd: number, status: number, elapsedMs: number, remote: string | undefined): boolean => {
    const code = String(status);
    const duration = durationJson(elapsedMs);
    let at = sink.claim(fixed + time.length + requestId.length + method.length + route.length + pathEnd + code.length + duration.length + (remote === undefined ? 0 : remote.length));
    if (at < 0) return false;
    const b = sink.buffer;
    at = copy(b, at, start);
    at = plain(b, at, time, time.length);
    at = copy(b, at, middle);
    if ((at = plain(b, at, requestId, requestId.length)) < 0) return false;
    at = copy(b, at, METHOD);
    if ((at = plain(b, at, method, method.length)) < 0) return false;
    at = copy(b, at, ROUTE);
    if ((at = plain(b, at, route, route.length)) < 0) return false;
    at = copy(b, at, PATH);
    if ((at = plain(b, at, url, pathEnd)) < 0) return false;
    at = copy(b, at, STATUS);
    at = plain(b, at, code, code.length);
    at = copy(b, at, DURATION);
    at = plain(b, at, duration, duration.length);
    if (remote === undefined) at = copy(b, at, END);
    else {
      at = copy(b, at, REMOTE);
      if ((at = plain(b, at, remote, remote.length)) < 0) return false;
      at = copy(b, at, END_QUOTED);
    }
    sink.commit(at);
    return true;
  };
}

function copy(b: Uint8Array, at: number, bytes: Uint8Array): number {
  b.set(bytes, at);
  return at + bytes.length;
}

/** `s`'s first `end` characters as bytes when each is printable ASCII other than a quote and a backslash; else -1. */
function plain(b: Uint8Array, at: number, s: string, end: number): number {
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return -1;
    b[at++] = c;
  }
  return at;
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
