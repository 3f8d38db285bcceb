import { buildBaseApp, type App } from '../shared/app-base.js';
import type { TokenServiceConfig } from './config.js';

export interface BuildOptions {
  logStream?: NodeJS.WritableStream;
}

/** The token-service as a Fastify app, without listening (tests inject; main.ts listens). */
export async function buildApp(config: TokenServiceConfig, opts: BuildOptions = {}): Promise<App> {
  const app = await buildBaseApp({ config, accessLog: 'info', ...opts });
  return app;
}
