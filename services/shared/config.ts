import type { EnvReader } from './env.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What every service reads: where to listen, where Postgres is, how to log and stop. */
export interface CommonConfig {
  databaseUrl: string;
  /**
   * A direct (unpooled) connection for LISTEN, when DATABASE_URL goes through a transaction-mode pooler
   * (LISTEN cannot work there). Undefined: the listener uses DATABASE_URL.
   */
  listenDatabaseUrl: string | undefined;
  databasePoolMax: number;
  host: string;
  port: number;
  metricsHost: string;
  metricsPort: number;
  logLevel: LogLevel;
  /** Access-log lines are written in batches of this many bytes (and at least once a second); 0 = every line at once. */
  logBufferBytes: number;
  /** Seconds readiness reports "shutting down" before the listener closes (endpoint removal). */
  shutdownDelaySeconds: number;
  /** Seconds in-flight requests get to finish before the process exits anyway. */
  shutdownTimeoutSeconds: number;
}

/** `LOG_BUFFER_BYTES` unless set: access lines reach stdout in batches of this many bytes (logging.ts). */
export const DEFAULT_LOG_BUFFER_BYTES = 32 * 1024;

export function readCommonConfig(r: EnvReader, ports: { port: number; metricsPort: number }): CommonConfig {
  const databaseUrl = r.url('DATABASE_URL', { required: true, file: true, protocols: ['postgres:', 'postgresql:'] }) ?? '';
  const listenDatabaseUrl = r.url('LISTEN_DATABASE_URL', { file: true, protocols: ['postgres:', 'postgresql:'] });
  const host = r.string('HOST', { default: '0.0.0.0' }) ?? '0.0.0.0';
  const config: CommonConfig = {
    databaseUrl,
    listenDatabaseUrl,
    databasePoolMax: r.int('DATABASE_POOL_MAX', { default: 10, min: 1, max: 1000 }),
    host,
    port: r.port('PORT', ports.port),
    metricsHost: r.string('METRICS_HOST', { default: host }) ?? host,
    metricsPort: r.port('METRICS_PORT', ports.metricsPort),
    logLevel: r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    logBufferBytes: r.int('LOG_BUFFER_BYTES', { default: DEFAULT_LOG_BUFFER_BYTES, min: 0, max: 1048576 }), // a batch is one write(2): its fixed cost (waking the reader of stdout) is per batch
    shutdownDelaySeconds: r.int('SHUTDOWN_DELAY_SECONDS', { default: 5, min: 0, max: 300 }),
    shutdownTimeoutSeconds: r.int('SHUTDOWN_TIMEOUT_SECONDS', { default: 20, min: 1, max: 600 }),
  };
  if (config.port !== 0 && config.port === config.metricsPort) {
    r.fail('METRICS_PORT', 'must differ from PORT (metrics are never served on the main port)');
  }
  return config;
}
