/**
 * The part of a logger that long-lived helpers (policy store, key source, revocation listener) write to;
 * a Fastify or pino logger fits, and so does a test's recorder. A type only.
 */
export interface Log {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}
