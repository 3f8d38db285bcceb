import { buildBaseApp, type App } from '../shared/app-base.js';
import type { AuthzServiceConfig } from './config.js';

export interface BuildOptions {
  logStream?: NodeJS.WritableStream;
}

/** The authz-service as a Fastify app, without listening (tests inject; main.ts listens). */
export async function buildApp(config: AuthzServiceConfig, opts: BuildOptions = {}): Promise<App> {
  const app = await buildBaseApp({ config, accessLog: 'debug', ...opts });
  return app;
}
