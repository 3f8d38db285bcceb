import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LabelCache } from './label-cache.js';
import { FastHistogram } from './fast-metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
    /** One answered request into `http_request_duration_seconds` (route template, method, status class). */
    observeHttp(route: string, method: string, statusCode: number, seconds: number): void;
  }
}

export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * A registry per app (never prom-client's global one), Node process metrics, the HTTP latency
 * histogram by route template, method and status class, and the database pool gauges.
 */
const metricsPlugin: FastifyPluginAsync = async (app) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges with a counter's `_total` suffix, which `promtool check metrics`
  // rejects; event-loop lag, heap, GC, CPU, memory and file-descriptor metrics stay.
  for (const misnamed of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(misnamed);
  }
  app.decorate('metrics', registry);

  // Bound once per (route, method): an observation on the request path hashes no labels (fast-metrics.ts).
  // Observed from the one onResponse hook (access-log.ts), which reads the route once for both.
  const http = new FastHistogram(registry, 'http_request_duration_seconds', 'HTTP request duration by route template, method and status class', LATENCY_BUCKETS);
  const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];
  const byRoute = new LabelCache((route, method) => STATUS_CLASSES.map((status_class) => http.bind({ route, method, status_class })));
  app.decorate('observeHttp', (route: string, method: string, statusCode: number, seconds: number) => {
    byRoute.get(route, method)[Math.floor(statusCode / 100)]?.(seconds);
  });

  if (app.hasDecorator('db')) {
    const queries = new Histogram({
      name: 'db_query_duration_seconds',
      help: 'Database query duration, by result',
      labelNames: ['result'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    const ok = queries.labels('ok');
    const failed = queries.labels('error');
    app.db.observeQueries((seconds, success) => (success ? ok : failed).observe(seconds));
    const pool = app.db.pool;
    new Gauge({
      name: 'db_up',
      help: '1 when Postgres answered a ping at scrape time',
      registers: [registry],
      async collect() {
        try {
          await pool.query('select 1');
          this.set(1);
        } catch {
          this.set(0);
        }
      },
    });
    new Gauge({
      name: 'db_pool_connections',
      help: 'Database pool connections by state',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
  }
};

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x' });

/**
 * A counter with one label whose values are a closed list, every value pre-registered at 0 so that a
 * rate over it exists before the first event (alerts and dashboards see zero, not "no data").
 */
export function closedCounter<L extends string>(registry: Registry, name: string, help: string, label: L, values: readonly string[]): Counter<L> {
  const counter = new Counter<L>({ name, help, labelNames: [label], registers: [registry] });
  for (const value of values) counter.inc({ [label]: value } as Record<L, string>, 0);
  return counter;
}

/**
 * The metrics listener: its own port, GET /metrics only. Never behind the ingress.
 */
export async function listenMetrics(registry: Registry, host: string, port: number): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?', 1)[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  let closing: Promise<void> | undefined;
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
