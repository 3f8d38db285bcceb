import { buildBaseApp, type App, type FrontDoor } from '../shared/app-base.js';
import { requestIdOf } from '../shared/logging.js';
import { createAudit } from '../shared/audit.js';
import type { AuthzServiceConfig } from './config.js';
import { authzMetrics } from './metrics.js';
import { LivePolicy } from './policy-file/live.js';
import { KeySource } from './tokens/key-source.js';
import { LivenessCache } from './tokens/liveness.js';
import { RevocationListener } from './tokens/listener.js';
import { sendNotification } from './tokens/store.js';
import auth, { decisionRoutes, supportEveryMethod } from './routes/auth.js';
import { authDecider } from './routes/auth-decision.js';
import { authFrontDoor } from './routes/front-door.js';
import jwks from './routes/jwks.js';
import { UpstreamAssertions } from './upstream/assertions.js';

export interface BuildOptions {
  logStream?: NodeJS.WritableStream;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Internals tests and benchmarks look at: the liveness cache, the live policy, the listener. */
    authz: { liveness: LivenessCache; policy: LivePolicy; listener: RevocationListener; keys: KeySource; upstream: UpstreamAssertions | null; frontDoor: FrontDoor };
  }
}

/**
 * The authz-service as a Fastify app, without listening. Refuses to build on a policy that does not
 * validate (PolicyInvalidError names each rule and why).
 */
export async function buildApp(config: AuthzServiceConfig, opts: BuildOptions = {}): Promise<App> {
  // `/auth` from NGINX and Traefik is answered before Fastify's router (routes/front-door.ts).
  const door: FrontDoor = { handle: null };
  const envoyPathPrefix = config.frontEnd === 'envoy' ? config.envoyPathPrefix : null;
  const app = await buildBaseApp({
    config,
    frontDoor: door,
    accessLog: config.accessLog ? 'info' : 'silent',
    accessLogSample: { routes: decisionRoutes({ envoyPathPrefix }), every: config.accessLogAllowedSample },
    ...(opts.logStream ? { logStream: opts.logStream } : {}),
  });
  const metrics = authzMetrics(app.metrics);
  const audit = createAudit('authz-service', opts.logStream);

  const policy = await LivePolicy.open(config.policyFile, app.log, (result, loaded) => {
    metrics.reloads.inc({ result });
    if (result === 'ok') {
      metrics.rules.set(loaded.ruleCount);
      metrics.policyInfo.reset();
      metrics.policyInfo.set({ hash: loaded.hash }, 1);
    }
  }, { allowLintErrors: config.policyAllowLintErrors, upstreamJwt: config.upstreamJwt !== null });
  if (config.trustedProxiesWide.length > 0) {
    app.log.warn({ trusted_proxies: config.trustedProxiesWide }, 'TRUSTED_PROXIES holds a range wider than /8 (TRUSTED_PROXIES_ALLOW_WIDE=true): a client inside it chooses its own address for sourceIps rules');
  }
  if (config.allowMethodOverride) {
    app.log.warn({}, 'ALLOW_METHOD_OVERRIDE=true: requests with a method-override header are decided for both methods');
  }
  policy.watch(config.policyReloadSeconds);

  const keys = new KeySource(config, app.log, config.upstreamJwt?.keys.map((k) => k.kid) ?? []);
  const upstream = config.upstreamJwt === null ? null : new UpstreamAssertions(config.upstreamJwt, { onSigned: metrics.upstreamSign, onEvent: metrics.upstreamEvent });
  await keys.start();

  const liveness = new LivenessCache(app.db.kysely, {
    ttlMs: config.cache.ttlSeconds * 1000,
    maxEntries: config.cache.maxEntries,
    maxPending: config.cache.maxPending,
    batchSize: 200,
    maxConcurrentQueries: 2,
    degradedBatchMs: config.cache.degradedBatchMs,
    onEvent: metrics.cacheEvent,
    onQuery: (seconds, ok) => metrics.lookups.observe({ result: ok ? 'ok' : 'error' }, seconds),
    log: app.log,
  });
  metrics.listenerHealthy.set(0);
  const listener = new RevocationListener({
    url: config.listenDatabaseUrl ?? config.databaseUrl,
    log: app.log,
    sendProbe: (channel, payload) => sendNotification(app.db.kysely, channel, payload),
    probeIntervalMs: config.listenerProbe.intervalMs,
    probeTimeoutMs: config.listenerProbe.timeoutMs,
    onHealthChange: (healthy) => {
      liveness.setTrusted(healthy);
      // Regaining trust: a revocation may have been missed while deaf (liveness forgets its answers too).
      if (healthy) upstream?.clear();
      metrics.listenerHealthy.set(healthy ? 1 : 0);
    },
    onProbeMissed: () => metrics.probesMissed.inc(),
    onRevoked: (jti) => {
      metrics.revocations.inc();
      liveness.revoke(jti);
      upstream?.revoke(jti);
    },
    onResync: () => {
      liveness.clear();
      upstream?.clear();
    },
    onStateChange: (up) => metrics.listener.set(up ? 1 : 0),
  });
  await listener.start();

  // Not hearing notifications is reported, never a reason to stop serving: /auth then asks Postgres.
  app.readiness.add('revocation_listener', () => (listener.healthy ? true : 'degraded'));
  app.readiness.add('keys', () => keys.loaded);
  app.addHook('onClose', async () => {
    policy.stop();
    keys.stop();
    await listener.stop();
  });
  app.decorate('authz', { liveness, policy, listener, keys, upstream, frontDoor: door });
  supportEveryMethod(app);
  const decide = authDecider({ config, metrics, audit, policy, keys, liveness, upstream });
  await app.register(auth, { decide, envoyPathPrefix });
  let closed = false;
  app.addHook('preClose', (done) => {
    closed = true;
    done();
  });
  door.handle = authFrontDoor({
    decide,
    requestId: requestIdOf,
    observe: app.observeHttp,
    accessLine: app.accessLine,
    log: app.log,
    closing: () => closed || app.readiness.shuttingDown,
  });
  if (config.upstreamJwt !== null) await app.register(jwks, { keys: config.upstreamJwt.keys });
  return app;
}
