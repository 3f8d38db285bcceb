import { runMain } from '../shared/main.js';
import { loadTokenServiceConfig } from './config.js';
import { buildApp } from './app.js';

// The only place the token-service reads process.env and listens.
runMain('token-service', process.env, loadTokenServiceConfig, (config) => buildApp(config)).catch((err: unknown) => {
  process.stderr.write(`token-service: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
