import { EnvReader, type Env } from '../shared/env.js';
import { readCommonConfig, type CommonConfig } from '../shared/config.js';

export interface TokenServiceConfig extends CommonConfig {}

/** Reads and validates the token-service's environment; throws ConfigError naming every bad variable. */
export function loadTokenServiceConfig(env: Env): TokenServiceConfig {
  const r = new EnvReader(env);
  const common = readCommonConfig(r, { port: 8080, metricsPort: 9464 });
  r.done();
  return { ...common };
}
