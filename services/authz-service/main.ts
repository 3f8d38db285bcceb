import { runMain } from '../shared/main.js';
import { loadAuthzServiceConfig } from './config.js';
import { buildApp } from './app.js';

// The only place the authz-service reads process.env and listens.
runMain('authz-service', process.env, loadAuthzServiceConfig, (config) => buildApp(config)).catch((err: unknown) => {
  process.stderr.write(`authz-service: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
