import fp from 'fastify-plugin';
import { sql } from 'kysely';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { pendingMigrations } from './db/migrator.js';

/** true = ok, false = not ready, 'degraded' = ready but working in a slower, still correct mode. */
export type CheckResult = boolean | 'degraded';
export type ReadinessCheck = () => Promise<CheckResult> | CheckResult;

declare module 'fastify' {
  interface FastifyInstance {
    readiness: {
      /** Set on SIGTERM: readiness fails first so the load balancer stops sending traffic. */
      shuttingDown: boolean;
      add(name: string, check: ReadinessCheck): void;
    };
  }
}

const HealthBody = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unavailable'), Type.Literal('shutting_down')]),
  checks: Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('failed')])),
});

/**
 * GET /healthz — liveness: the process answers (never depends on the database).
 * GET /readyz — readiness: Postgres reachable, migrations applied, plus each service's own checks.
 * A check may report `degraded` (slower, still correct): the status says so and stays 200.
 */
const health: FastifyPluginAsync = async (app) => {
  const checks = new Map<string, ReadinessCheck>();
  const readiness = { shuttingDown: false, add: (name: string, check: ReadinessCheck) => void checks.set(name, check) };
  app.decorate('readiness', readiness);

  let migrated = false;
  readiness.add('database', async () => {
    await sql`select 1`.execute(app.db.kysely);
    if (!migrated) migrated = (await pendingMigrations(app.db.kysely)).length === 0;
    return migrated;
  });

  // Once shutdown has begun, every answer ends its keep-alive connection: clients reconnect (to another
  // replica) instead of sending on a socket that is about to be closed while idle.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (readiness.shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  });

  const schema = { response: { 200: HealthBody, 503: HealthBody } };
  app.get('/healthz', { schema, logLevel: 'warn' }, async () => ({ status: 'ok' as const, checks: {} }));
  app.get('/readyz', { schema, logLevel: 'warn' }, async (req, reply) => {
    const results: Record<string, 'ok' | 'degraded' | 'failed'> = {};
    await Promise.all(
      [...checks].map(async ([name, check]) => {
        let result: CheckResult = false;
        try {
          result = await check();
        } catch (err) {
          req.log.warn({ check: name, reason: (err as Error).message }, 'readiness check failed');
        }
        results[name] = result === true ? 'ok' : result === 'degraded' ? 'degraded' : 'failed';
      }),
    );
    const values = Object.values(results);
    const status = readiness.shuttingDown
      ? 'shutting_down'
      : values.includes('failed')
        ? 'unavailable'
        : values.includes('degraded')
          ? 'degraded'
          : 'ok';
    return reply.code(status === 'ok' || status === 'degraded' ? 200 : 503).send({ status, checks: results });
  });
};

export default fp(health, { name: 'health', fastify: '5.x', dependencies: ['db'] });
