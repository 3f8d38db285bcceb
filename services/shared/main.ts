import type { Env } from './env.js';
import { ConfigError } from './env.js';
import type { CommonConfig } from './config.js';
import type { App } from './app-base.js';
import { serve, exitOnSignals } from './server.js';

/**
 * The body of each service's main.ts: read the environment, build, listen, stop on SIGTERM.
 * A configuration problem prints one line per variable and exits 1 before anything listens.
 */
export async function runMain<C extends CommonConfig>(
  name: string,
  env: Env,
  load: (env: Env) => C,
  build: (config: C) => Promise<App>,
): Promise<void> {
  let config: C;
  try {
    config = load(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: invalid configuration\n${err.problems.map((p) => `  ${p}\n`).join('')}`);
      process.exit(1);
    }
    throw err;
  }
  const app = await build(config);
  const running = await serve(app, config);
  app.log.info({ port: running.port, metrics_port: running.metricsPort }, `${name} listening`);
  exitOnSignals(running, config, app.log);
}
