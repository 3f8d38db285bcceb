import formbody from '@fastify/formbody';
import { buildBaseApp, type App } from '../shared/app-base.js';
import { createAudit } from '../shared/audit.js';
import type { TokenServiceConfig } from './config.js';
import { tokenMetrics } from './metrics.js';
import { createIssuer } from './tokens/issuer.js';
import { startSweeper } from './tokens/sweeper.js';
import guards from './routes/guards.js';
import acs from './routes/acs.js';
import login from './routes/login.js';
import metadata from './routes/metadata.js';
import logout from './routes/logout.js';
import identity from './routes/identity.js';
import slo from './routes/slo.js';
import { samlBodyLimit, type RouteContext } from './routes/context.js';
import { envIdpEntry, fixedDirectory } from './idps/directory.js';
import { startIdpDirectory } from './idps/live.js';
import { idpMetrics } from './idps/metrics.js';
import type { IdpDirectory } from './idps/types.js';

export interface BuildOptions {
  logStream?: NodeJS.WritableStream;
}


/** The token-service as a Fastify app, without listening (tests inject; main.ts listens). */
export async function buildApp(config: TokenServiceConfig, opts: BuildOptions = {}): Promise<App> {
  const app = await buildBaseApp({
    config,
    accessLog: 'info',
    ...(opts.logStream ? { logStream: opts.logStream } : {}),
    bodyLimit: samlBodyLimit(config),
  });
  if (config.trustedProxiesWide.length > 0) {
    app.log.warn({ trusted_proxies: config.trustedProxiesWide }, 'TRUSTED_PROXIES holds a range wider than /8 (TRUSTED_PROXIES_ALLOW_WIDE=true): a client inside it chooses its own address for ALLOWED_CIDRS and the rate limit');
  }
  const signer = config.jwt.keys[0];
  if (!signer) throw new Error('no JWT signing key');
  let idps: IdpDirectory;
  if (config.idps.kind === 'env') {
    idps = fixedDirectory([envIdpEntry(config.idps.idp)]);
  } else {
    const live = await startIdpDirectory({
      file: config.idps.path, sp: config.sp, defaults: config.idpDefaults, log: app.log, metrics: idpMetrics(app.metrics), pollIntervalMs: config.idps.reloadSeconds * 1000,
    });
    app.addHook('onClose', async () => live.close());
    idps = live;
  }
  const metrics = tokenMetrics(app.metrics);
  metrics.knowIdps(idps.list().map((i) => i.name));
  const ctx: RouteContext = {
    idps,
    config,
    metrics,
    audit: createAudit('token-service', opts.logStream),
    issue: createIssuer({ key: signer, issuer: config.jwt.issuer, audience: config.jwt.audience, ttlSeconds: config.jwt.ttlSeconds }),
  };
  // Only the ACS reads a body (a form); any other body is left unread rather than parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  await app.register(formbody, { bodyLimit: samlBodyLimit(config) });
  await app.register(guards, ctx);
  await app.register(acs, ctx);
  await app.register(login, ctx);
  await app.register(metadata, ctx);
  await app.register(logout, ctx);
  await app.register(identity, ctx);
  await app.register(slo, ctx);
  startSweeper(app, config.sweepIntervalSeconds, config.sp.clockSkewSeconds, ctx);
  return app;
}
