import type { Audit } from '../../shared/audit.js';
import type { TokenServiceConfig } from '../config.js';
import type { TokenMetrics } from '../metrics.js';
import type { Identity, IssuedToken } from '../tokens/issuer.js';

/** What the token-service's route plugins share, passed as plugin options (routes stay encapsulated). */
export interface RouteContext {
  config: TokenServiceConfig;
  metrics: TokenMetrics;
  audit: Audit;
  issue: (identity: Identity) => IssuedToken;
}

export const ErrorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
  additionalProperties: false,
} as const;

export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;
