import { randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
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

/** This process's request-id prefix: random per process, so ids from several replicas never collide. */
const ID_PREFIX = randomBytes(6).toString('base64url');
let idSeq = 0;

const loggerConfig = (level: LogLevel) => ({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });

/** Where access lines go (access-log.ts): one finished JSON line per call. */
export interface LineSink {
  write(line: string): void;
}

/**
 * A sink that also takes a line's bytes in place (the batch buffer): access-log.ts encodes a plain line
 * straight into `buffer` between `claim` and `commit`, with no string built, flattened and encoded.
 */
export interface InPlaceLineSink extends LineSink {
  readonly buffer: Uint8Array;
  /** Room for `bytes` more bytes (flushing first when they would not fit): their offset in `buffer`, or -1 for a line that long. */
  claim(bytes: number): number;
  /** Keeps what was written from the claimed offset up to `end`. */
  commit(end: number): void;
}

/**
 * The sink of the access lines (access-log.ts). `destination` (tests) is written to line by line;
 * otherwise stdout through a buffer of `bufferBytes`, written synchronously in whole batches, at least
 * once a second and at exit: a busy replica makes one write(2) per ~150 access lines (32 KiB:
 * config.ts `DEFAULT_LOG_BUFFER_BYTES`) instead of one per line; each write(2) to a pipe has a fixed
 * cost (waking its reader). Every other line (start-up, warnings, errors) still goes out at once
 * through the app's logger; audit events have their own (audit.ts). What a buffer costs: the access
 * lines of the last second can be lost if the process is killed with SIGKILL (an OOM kill).
 * `LOG_BUFFER_BYTES=0` writes every access line at once.
 */
export function accessLineSink(destination: NodeJS.WritableStream | undefined, bufferBytes: number): LineSink | InPlaceLineSink {
  if (destination !== undefined) return { write: (line) => void destination.write(line) };
  const batched = new BatchedLines(1, bufferBytes);
  setInterval(() => batched.flush(), 1000).unref();
  process.once('exit', () => batched.flush(2000));
  return batched;
}

/** Largest backlog kept while the reader of stdout is not reading (EAGAIN); beyond it lines are dropped. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

/**
 * Lines gathered into one synchronous write(2) per batch: no thread-pool round trip per batch
 * (measured cheaper than pino's asynchronous mode, see docs/performance.md), and no fsync(2) per
 * flush (pino's synchronous destination syncs on every flush: 6 ms of the event loop per second when
 * stdout is a file). Each line is encoded into one buffer allocated once, so a line's string dies
 * young: no string of a whole batch is built, kept across garbage collections and copied again.
 */
export class BatchedLines implements InPlaceLineSink {
  readonly buffer: Buffer;
  private used = 0;
  /** What a full pipe (EAGAIN) left unwritten, written first at the next flush. */
  private backlog: Buffer | null = null;

  constructor(private readonly fd: number, private readonly bufferBytes: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(bufferBytes, 1));
  }

  write(line: string): void {
    // A line takes at most 3 bytes per UTF-16 unit; one that could not fit is flushed on its own.
    if (this.used + line.length * 3 > this.buffer.length) {
      this.flush();
      if (line.length * 3 > this.buffer.length) return this.send(Buffer.from(line));
    }
    this.used += this.buffer.write(line, this.used, 'utf8');
    if (this.used >= this.bufferBytes) this.flush();
  }

  claim(bytes: number): number {
    if (bytes > this.buffer.length) return -1;
    if (this.used + bytes > this.buffer.length) this.flush();
    return this.used;
  }

  commit(end: number): void {
    this.used = end;
    if (this.used >= this.bufferBytes) this.flush();
  }

  /** Writes what is buffered (see {@link send}). */
  flush(patienceMs = 50): void {
    if (this.used === 0 && this.backlog === null) return;
    const fresh = this.buffer.subarray(0, this.used);
    this.used = 0;
    this.send(fresh, patienceMs);
  }

  /**
   * Writes `data` after any backlog. A full pipe (EAGAIN: the reader of stdout is behind, and stdout
   * was made non-blocking by someone) is waited for in steps of 1 ms, up to `patienceMs`; what is still
   * unwritten then waits for the next flush, copied out of the line buffer (bounded: beyond
   * MAX_BACKLOG_BYTES it is dropped). stdout gone (EPIPE): the batch is dropped.
   */
  private send(fresh: Buffer, patienceMs = 50): void {
    const data = this.backlog === null ? fresh : Buffer.concat([this.backlog, fresh]);
    this.backlog = null;
    let offset = 0;
    let waited = 0;
    while (offset < data.length) {
      try {
        offset += writeSync(this.fd, data, offset);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
        if (waited++ < patienceMs) {
          Atomics.wait(PAUSE, 0, 0, 1);
          continue;
        }
        if (data.length - offset <= MAX_BACKLOG_BYTES) this.backlog = Buffer.from(data.subarray(offset));
        return;
      }
    }
  }
}

/** Something to wait on for a millisecond (Atomics.wait on a value that never changes). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * A request's id: an upstream request id is kept when it is well-formed (it ties our line to NGINX's),
 * else a new one: this process's random prefix and a counter (unique, and no entropy drawn per request).
 */
export function requestIdOf(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : `${ID_PREFIX}-${(++idSeq).toString(36)}`;
}

/** Fastify logger and request-id options shared by both services. */
export function loggerOptions(level: LogLevel, destination?: NodeJS.WritableStream): Pick<
  FastifyServerOptions,
  'logger' | 'genReqId' | 'logController'
> {
  return {
    logger: { ...loggerConfig(level), ...(destination ? { stream: destination } : {}) } as FastifyServerOptions['logger'],
    genReqId: requestIdOf,
    // Fastify's own two lines per request are off: access-log.ts writes one line per request.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
  };
}
