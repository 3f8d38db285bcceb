import type { EnvReader } from '../../shared/env.js';
import { JWT_ALGORITHMS, loadSigningKeys, type SigningKey } from '../../shared/jwt-keys.js';

/** The longest an upstream assertion may live (the contract's 60 s); also the default. */
export const MAX_UPSTREAM_TTL_SECONDS = 60;

export interface UpstreamJwtConfig {
  /** The first signs; all are published at /.well-known/jwks.json (overlap rotation). */
  keys: SigningKey[];
  issuer: string;
  ttlSeconds: number;
  /** UPSTREAM_JWT_ALL: every non-public allow rule sends the assertion, not only `upstreamJwt: true` ones. */
  all: boolean;
  /** Assertions cached (distinct user tokens); the oldest goes first. */
  cacheMaxEntries: number;
}

/**
 * UPSTREAM_JWT_*: the authz-service's own signing key for `X-Auth-Request-Jwt`. Off unless the key and
 * the issuer are set (together); every problem names its variable. `tokenKids` are the thumbprints of
 * the keys user tokens are verified with: the authz key must never be one of them.
 */
export function readUpstreamJwtConfig(r: EnvReader, tokenKids: readonly string[], cacheDefault: number): UpstreamJwtConfig | null {
  const algorithm = r.oneOf('UPSTREAM_JWT_ALGORITHM', JWT_ALGORITHMS, 'ES256');
  const keyText = r.string('UPSTREAM_JWT_PRIVATE_KEY', { file: true });
  const issuer = r.string('UPSTREAM_JWT_ISSUER');
  const ttlSeconds = r.int('UPSTREAM_JWT_TTL_SECONDS', { default: MAX_UPSTREAM_TTL_SECONDS, min: 5, max: MAX_UPSTREAM_TTL_SECONDS });
  const all = r.bool('UPSTREAM_JWT_ALL', false);
  const cacheMaxEntries = r.int('UPSTREAM_JWT_CACHE_MAX_ENTRIES', { default: cacheDefault, min: 100, max: 10_000_000 });
  if (keyText === undefined && issuer === undefined) {
    if (all) r.fail('UPSTREAM_JWT_ALL', 'needs UPSTREAM_JWT_PRIVATE_KEY (or _FILE) and UPSTREAM_JWT_ISSUER');
    return null;
  }
  if (keyText === undefined) {
    r.fail('UPSTREAM_JWT_PRIVATE_KEY', 'required (or UPSTREAM_JWT_PRIVATE_KEY_FILE) when UPSTREAM_JWT_ISSUER is set: the issuer and the key go together');
    return null;
  }
  if (issuer === undefined) {
    r.fail('UPSTREAM_JWT_ISSUER', 'required when UPSTREAM_JWT_PRIVATE_KEY is set: the issuer and the key go together');
    return null;
  }
  let keys: SigningKey[];
  try {
    keys = loadSigningKeys(keyText, algorithm);
  } catch (err) {
    r.fail('UPSTREAM_JWT_PRIVATE_KEY', `${(err as Error).message} (UPSTREAM_JWT_ALGORITHM=${algorithm})`);
    return null;
  }
  const shared = keys.findIndex((k) => tokenKids.includes(k.kid));
  if (shared >= 0) {
    r.fail('UPSTREAM_JWT_PRIVATE_KEY', `key #${shared + 1} is a key user tokens are verified with (JWT_PUBLIC_KEYS): the authz-service needs its own key, or an upstream could take a user token for an assertion and the reverse`);
    return null;
  }
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) {
    r.fail('UPSTREAM_JWT_PRIVATE_KEY', 'the same key is listed twice');
    return null;
  }
  return { keys, issuer, ttlSeconds, all, cacheMaxEntries };
}
