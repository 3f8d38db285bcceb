import { EnvReader, type Env } from '../shared/env.js';
import { readCommonConfig, type CommonConfig } from '../shared/config.js';

export interface AuthzServiceConfig extends CommonConfig {}

/** Reads and validates the authz-service's environment; throws ConfigError naming every bad variable. */
export function loadAuthzServiceConfig(env: Env): AuthzServiceConfig {
  const r = new EnvReader(env);
  const common = readCommonConfig(r, { port: 8081, metricsPort: 9465 });
  r.done();
  return { ...common };
}
