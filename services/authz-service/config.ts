import { BlockList } from 'node:net';
import { EnvReader, type Env } from '../shared/env.js';
import { readCommonConfig, type CommonConfig } from '../shared/config.js';
import { DEFAULT_COOKIE_NAME } from '../shared/cookies.js';
import { HTTP_TOKEN } from '../shared/http-token.js';
import { secureOrLoopback } from '../shared/secure-url.js';
import { readTrustedProxies } from '../shared/trusted-proxies.js';
import { loadVerificationKeys, type VerificationKey } from '../shared/jwt-keys.js';
import { FRONT_ENDS, type FrontEnd } from './request/front-end.js';
import type { Relaxations } from './request/path.js';
import { readUpstreamJwtConfig, type UpstreamJwtConfig } from './upstream/config.js';

/** PATH_RELAXATIONS entries and the normaliser case each one relaxes. */
export const PATH_RELAXATION_NAMES: Record<string, Partial<Relaxations>> = {
  'encoded-slash': { encodedSlash: true },
  'dot-segments': { dotSegments: true },
  'path-parameters': { pathParameters: true },
  'double-encoding': { doubleEncoding: true },
  backslash: { backslash: true },
  'no-merge-slashes': { mergeSlashes: false },
};

export { MIN_TRUSTED_PREFIX } from '../shared/trusted-proxies.js';

export interface AuthzServiceConfig extends CommonConfig {
  frontEnd: FrontEnd;
  envoyPathPrefix: string;
  policyFile: string;
  policyReloadSeconds: number;
  /** Static keys (JWT_PUBLIC_KEYS) or a JWKS URL to fetch them from (the token-service's). */
  keys: { kind: 'static'; keys: VerificationKey[] } | { kind: 'jwks'; url: string; refreshSeconds: number; minRefreshSeconds: number };
  jwtIssuer: string;
  jwtAudience: string;
  clockSkewSeconds: number;
  trustedProxies: BlockList;
  /** TRUSTED_PROXIES_ALLOW_WIDE: a range wider than /8 was accepted on purpose (logged at start) */
  trustedProxiesWide: string[];
  /**
   * Whether X-Real-IP is believed (from a trusted proxy) before X-Forwarded-For: only behind the NGINX
   * front ends, whose configurations overwrite it. Traefik and Envoy pass a client's own X-Real-IP on.
   */
  trustRealIp: boolean;
  cookieName: string;
  /** ALLOW_METHOD_OVERRIDE: method-override headers are allowed (and both methods must be allowed) */
  allowMethodOverride: boolean;
  /** INGRESS_CHECK_REQUEST_REDIRECT: X-Auth-Request-Redirect must be X-Original-URL's path */
  ingressCheckRequestRedirect: boolean;
  /** REFUSAL_HEADERS: which of X-Auth-Request-Reason / -Rule a refusal carries */
  refusalHeaders: { reason: boolean; rule: boolean };
  /** POLICY_ALLOW_LINT_ERRORS: start (and reload) on a policy that `policy lint` rates an error */
  policyAllowLintErrors: boolean;
  pathRelaxations: Partial<Relaxations>;
  cache: { ttlSeconds: number; maxEntries: number; maxPending: number; degradedBatchMs: number };
  /** The listener's self-test: a probe notification every `intervalMs`, to be heard within `timeoutMs`. */
  listenerProbe: { intervalMs: number; timeoutMs: number };
  accessLog: boolean;
  /** One access line per this many allowed (200) decisions (`/auth`, Envoy's prefix); refusals and errors always get theirs. */
  accessLogAllowedSample: number;
  /** X-Auth-Request-Jwt, the authz-service's own signed identity assertion; null when not configured. */
  upstreamJwt: UpstreamJwtConfig | null;
}

/** Reads and validates the authz-service's environment; throws ConfigError naming every bad variable. */
export function loadAuthzServiceConfig(env: Env): AuthzServiceConfig {
  const r = new EnvReader(env);
  const common = readCommonConfig(r, { port: 8081, metricsPort: 9465 });

  const keyText = r.string('JWT_PUBLIC_KEYS', { file: true });
  const jwksUrl = r.url('JWKS_URL');
  let keys: AuthzServiceConfig['keys'] = { kind: 'static', keys: [] };
  if (keyText !== undefined && jwksUrl !== undefined) {
    r.fail('JWT_PUBLIC_KEYS', 'set either JWT_PUBLIC_KEYS (or _FILE) or JWKS_URL, not both');
  } else if (keyText !== undefined) {
    try {
      keys = { kind: 'static', keys: loadVerificationKeys(keyText) };
    } catch (err) {
      r.fail('JWT_PUBLIC_KEYS', (err as Error).message);
    }
  } else if (jwksUrl !== undefined) {
    if (!r.bool('JWKS_ALLOW_HTTP', false) && !secureOrLoopback(jwksUrl)) {
      r.fail('JWKS_URL', 'must be https (plain http only to a loopback address, or with JWKS_ALLOW_HTTP=true): whoever can answer it chooses the keys every token is checked with');
    }
    keys = {
      kind: 'jwks',
      url: jwksUrl,
      refreshSeconds: r.int('JWKS_REFRESH_SECONDS', { default: 300, min: 10, max: 86400 }),
      minRefreshSeconds: r.int('JWKS_MIN_REFRESH_SECONDS', { default: 30, min: 1, max: 3600 }),
    };
  } else if (!r.problems.some((p) => p.startsWith('JWT_PUBLIC_KEYS'))) {
    r.fail('JWT_PUBLIC_KEYS', 'required: JWT_PUBLIC_KEYS (or JWT_PUBLIC_KEYS_FILE) or JWKS_URL');
  }

  const { trustedProxies, trustedProxiesWide: wide } = readTrustedProxies(r);
  const frontEnd = r.oneOf('FRONT_END', FRONT_ENDS, 'nginx');
  const refusalHeaders = { reason: false, rule: false };
  const defaultRefusal = frontEnd === 'nginx' || frontEnd === 'ingress-nginx' ? ['reason', 'rule'] : ['reason'];
  for (const name of r.list('REFUSAL_HEADERS', defaultRefusal)) {
    if (name === 'reason' || name === 'rule') refusalHeaders[name] = true;
    else if (name !== 'none') r.fail('REFUSAL_HEADERS', `unknown entry ${JSON.stringify(name)} (known: reason, rule, none)`);
  }
  const pathRelaxations: Partial<Relaxations> = {};
  for (const name of r.list('PATH_RELAXATIONS')) {
    const relax = PATH_RELAXATION_NAMES[name];
    if (relax) Object.assign(pathRelaxations, relax);
    else r.fail('PATH_RELAXATIONS', `unknown relaxation ${JSON.stringify(name)} (known: ${Object.keys(PATH_RELAXATION_NAMES).join(', ')})`);
  }
  const envoyPathPrefix = r.string('ENVOY_PATH_PREFIX', { default: '/auth/ext' }) ?? '/auth/ext';
  if (!/^\/[A-Za-z0-9._~\/-]*[A-Za-z0-9._~-]$/.test(envoyPathPrefix) || envoyPathPrefix === '/auth') {
    r.fail('ENVOY_PATH_PREFIX', 'expected a path such as /auth/ext (not "/auth", without a trailing slash)');
  }
  const cookieName = r.string('COOKIE_NAME', { default: DEFAULT_COOKIE_NAME }) ?? DEFAULT_COOKIE_NAME;
  if (!HTTP_TOKEN.test(cookieName)) r.fail('COOKIE_NAME', 'expected a cookie-name token');

  const tokenKids = keys.kind === 'static' ? keys.keys.flatMap((k) => k.kids) : [];
  const cacheMaxEntries = r.int('CACHE_MAX_ENTRIES', { default: 100_000, min: 100, max: 10_000_000 });
  const upstreamJwt = readUpstreamJwtConfig(r, tokenKids, cacheMaxEntries);

  const config: AuthzServiceConfig = {
    ...common,
    frontEnd,
    envoyPathPrefix,
    policyFile: r.required('POLICY_FILE'),
    policyReloadSeconds: r.int('POLICY_RELOAD_SECONDS', { default: 5, min: 0, max: 3600 }),
    keys,
    jwtIssuer: r.required('JWT_ISSUER'),
    jwtAudience: r.required('JWT_AUDIENCE'),
    clockSkewSeconds: r.int('JWT_CLOCK_SKEW_SECONDS', { default: 10, min: 0, max: 300 }),
    trustedProxies,
    trustedProxiesWide: wide,
    trustRealIp: frontEnd === 'nginx' || frontEnd === 'ingress-nginx',
    cookieName,
    allowMethodOverride: r.bool('ALLOW_METHOD_OVERRIDE', false),
    ingressCheckRequestRedirect: r.bool('INGRESS_CHECK_REQUEST_REDIRECT', true),
    refusalHeaders,
    policyAllowLintErrors: r.bool('POLICY_ALLOW_LINT_ERRORS', false),
    pathRelaxations,
    cache: {
      ttlSeconds: r.int('CACHE_TTL_SECONDS', { default: 30, min: 1, max: 3600 }),
      maxEntries: cacheMaxEntries,
      maxPending: r.int('LIVENESS_MAX_PENDING', { default: 10_000, min: 10, max: 1_000_000 }),
      degradedBatchMs: r.int('LIVENESS_DEGRADED_BATCH_MS', { default: 5, min: 1, max: 500 }),
    },
    listenerProbe: {
      intervalMs: r.int('LISTENER_PROBE_INTERVAL_MS', { default: 500, min: 50, max: 60_000 }),
      timeoutMs: r.int('LISTENER_PROBE_TIMEOUT_MS', { default: 500, min: 10, max: 60_000 }),
    },
    accessLog: r.bool('ACCESS_LOG', true),
    accessLogAllowedSample: r.int('ACCESS_LOG_ALLOWED_SAMPLE', { default: 100, min: 1, max: 1_000_000 }),
    upstreamJwt,
  };
  r.done();
  return config;
}
