import { Type } from '@sinclair/typebox';
import type { Audit } from '../../shared/audit.js';
import type { TokenServiceConfig } from '../config.js';
import type { TokenMetrics } from '../metrics.js';
import type { IssuedToken, TokenClaims } from '../tokens/issuer.js';
import type { IdpDirectory } from '../idps/types.js';

/** What the token-service's route plugins share, passed as plugin options (routes stay encapsulated). */
export interface RouteContext {
  config: TokenServiceConfig;
  metrics: TokenMetrics;
  audit: Audit;
  issue: (claims: TokenClaims) => IssuedToken;
  /** The configured IdPs (read per request: SAML_IDPS_FILE reloads swap them). */
  idps: IdpDirectory;
}

export const ErrorBody = Type.Object(
  { error: Type.String(), message: Type.String() },
  { additionalProperties: false },
);

/** No body (a redirect, a 204): the JSON schema of null, typed so that `reply.send()` takes no payload. */
export const NoBody = Type.Unsafe<undefined>({ type: 'null' });

/**
 * The body limit wherever a SAML response is read (app, form parser, ACS route): a base64- and
 * form-encoded response of up to SAML_MAX_RESPONSE_BYTES, with room for the other fields.
 */
export function samlBodyLimit(config: TokenServiceConfig): number {
  return Math.ceil(config.sp.maxResponseBytes * 1.5) + 4096;
}

export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/**
 * A route's `config.rateLimit`: the budget per client network, and the size of the route's own store
 * (@fastify/rate-limit gives each route a store and reads its size from the route's options only).
 */
export function routeRateLimit(config: TokenServiceConfig): { max: number; timeWindow: number; cache: number } {
  return { max: config.rateLimit.max, timeWindow: config.rateLimit.windowSeconds * 1000, cache: config.rateLimit.storeSize };
}
