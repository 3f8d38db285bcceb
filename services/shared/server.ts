import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { CommonConfig } from './config.js';
import { listenMetrics } from './metrics.js';

export interface RunningService {
  port: number;
  metricsPort: number;
  /** Readiness fails, after the delay the listener closes, in-flight requests finish, pools close. */
  shutdown(reason: string): Promise<void>;
}

type Listening = Pick<CommonConfig, 'host' | 'port' | 'metricsHost' | 'metricsPort' | 'shutdownDelaySeconds' | 'shutdownTimeoutSeconds'>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Listens on the main and metrics ports; shutdown is ordered as Kubernetes needs it. */
export async function serve(app: FastifyInstance, config: Listening): Promise<RunningService> {
  await app.listen({ host: config.host, port: config.port });
  const metrics = await listenMetrics(app.metrics, config.metricsHost, config.metricsPort);
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) =>
    (stopping ??= (async () => {
      app.log.info({ reason, delay_seconds: config.shutdownDelaySeconds }, 'shutting down: readiness now fails');
      app.readiness.shuttingDown = true;
      await sleep(config.shutdownDelaySeconds * 1000);
      await app.close();
      await metrics.close();
      app.log.info('stopped');
    })());
  return { port: (app.server.address() as AddressInfo).port, metricsPort: metrics.port, shutdown };
}

/**
 * The process side of a service: SIGTERM/SIGINT start the ordered shutdown, which must finish
 * within SHUTDOWN_TIMEOUT_SECONDS or the process exits non-zero anyway.
 */
export function exitOnSignals(service: RunningService, config: Listening, log: FastifyInstance['log']): void {
  const onSignal = (signal: NodeJS.Signals) => {
    const timer = setTimeout(() => {
      log.error({ signal }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000);
    timer.unref();
    service.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
