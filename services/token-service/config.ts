import { BlockList, isIP } from 'node:net';
import { readTrustedProxies } from '../shared/trusted-proxies.js';
import { EnvReader, type Env } from '../shared/env.js';
import { readCommonConfig, type CommonConfig } from '../shared/config.js';
import { JWT_ALGORITHMS, loadSigningKeys, type JwtAlgorithm, type SigningKey } from '../shared/jwt-keys.js';
import { parseCidrList } from '../shared/cidr.js';
import { DEFAULT_COOKIE_NAME, cookiePrefixProblem } from '../shared/cookies.js';
import { HTTP_TOKEN } from '../shared/http-token.js';
import { LOGIN_STATE_PREFIX } from './routes/login-state.js';
import type { IdpSettingsInput, SamlSettings, SpSettings } from './saml/config.js';
import { readGroupsFilter, type GroupsFilter } from './tokens/groups-filter.js';
import { readSamlConfig } from './config-saml.js';

export interface TokenServiceConfig extends CommonConfig {
  /** Our side of SAML (entity id, ACS, keys, limits): one whatever the number of IdPs. */
  sp: SpSettings;
  /** The SAML_* values for the per-IdP settings: the single IdP's, and the defaults of SAML_IDPS_FILE's entries. */
  idpDefaults: Partial<IdpSettingsInput>;
  /** The single IdP of the SAML_IDP_* variables, or SAML_IDPS_FILE's path (read by the IdP directory). */
  idps: { kind: 'env'; idp: SamlSettings } | { kind: 'file'; path: string; reloadSeconds: number };
  jwt: { algorithm: JwtAlgorithm; keys: SigningKey[]; issuer: string; audience: string; ttlSeconds: number };
  /** Who may redeem at /saml/acs; undefined = any address (documented: set it in production). */
  allowedCidrs?: BlockList;
  trustedProxies: BlockList;
  /** TRUSTED_PROXIES_ALLOW_WIDE: a range wider than /8 was accepted on purpose (logged at start) */
  trustedProxiesWide: string[];
  /** Per client network (IPv4 address, IPv6 /64); `storeSize` networks remembered per route (LRU). */
  rateLimit: { max: number; windowSeconds: number; storeSize: number };
  /** Unused, unexpired SP-initiated request ids one client network may hold (/saml/login refuses past it). */
  maxPendingLogins: number;
  cookie: { name: string; domain?: string; secure: boolean; sameSite: 'Lax' | 'Strict' };
  /** RelayState values accepted for the browser redirect: absolute URLs, matched by origin and path prefix. */
  allowedReturnUrls: URL[];
  defaultReturnUrl?: string;
  sweepIntervalSeconds: number;
  /** SAML_GROUPS_FILTER / SAML_GROUPS_FILTER_REGEX: the groups kept in tokens; null = all. */
  groupsFilter: GroupsFilter | null;
  /**
   * Sessions: renewal without the IdP while the session lives. `cookieName` is the opaque renewal
   * cookie's (COOKIE_NAME + `_session`); the idle timeout is seen at renewal, so it must exceed the
   * token lifetime.
   */
  session: { idleTimeoutSeconds: number; maxLifetimeSeconds: number; cookieName: string };
}

/** The renewal cookie's name: the session cookie's plus this suffix (so `__Host-` carries over). */
export const SESSION_COOKIE_SUFFIX = '_session';

/** Reads and validates the token-service's environment; throws ConfigError naming every bad variable. */
export function loadTokenServiceConfig(env: Env): TokenServiceConfig {
  const r = new EnvReader(env);
  const common = readCommonConfig(r, { port: 8080, metricsPort: 9464 });

  const { sp, idpDefaults, idps } = readSamlConfig(r);
  const algorithm = r.oneOf('JWT_ALGORITHM', JWT_ALGORITHMS, 'ES256');
  const keyText = r.required('JWT_PRIVATE_KEY', { file: true });
  let keys: SigningKey[] = [];
  if (keyText) {
    try {
      keys = loadSigningKeys(keyText, algorithm);
    } catch (err) {
      r.fail('JWT_PRIVATE_KEY', (err as Error).message);
    }
  }
  const jwt = {
    algorithm,
    keys,
    issuer: r.required('JWT_ISSUER'),
    audience: r.required('JWT_AUDIENCE'),
    ttlSeconds: r.int('JWT_TTL_SECONDS', { default: 900, min: 30, max: 86400 }),
  };

  const cidrs = (name: string) => {
    try {
      return parseCidrList(r.list(name));
    } catch (err) {
      r.fail(name, (err as Error).message);
      return new BlockList();
    }
  };
  const allowedList = r.list('ALLOWED_CIDRS');
  const allowedCidrs = allowedList.length > 0 ? cidrs('ALLOWED_CIDRS') : undefined;
  const { trustedProxies, trustedProxiesWide } = readTrustedProxies(r);

  const allowedReturnUrls: URL[] = [];
  for (const entry of r.list('ALLOWED_RETURN_URLS')) {
    try {
      const url = new URL(entry);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('protocol');
      allowedReturnUrls.push(url);
    } catch {
      r.fail('ALLOWED_RETURN_URLS', `${JSON.stringify(entry)} is not an absolute http(s) URL`);
    }
  }
  // Kept in its WHATWG serialisation: ASCII only, so that it is always a valid Location header.
  const defaultReturnUrlRaw = r.url('DEFAULT_RETURN_URL');
  const defaultReturnUrl = defaultReturnUrlRaw === undefined ? undefined : new URL(defaultReturnUrlRaw).href;
  const cookieDomain = r.string('COOKIE_DOMAIN');
  if (cookieDomain !== undefined && (isIP(cookieDomain) !== 0 || !/^[A-Za-z0-9.-]+$/.test(cookieDomain))) {
    r.fail('COOKIE_DOMAIN', 'expected a domain name');
  }
  const config: TokenServiceConfig = {
    ...common,
    sp,
    idpDefaults,
    idps,
    jwt,
    ...(allowedCidrs ? { allowedCidrs } : {}),
    trustedProxies,
    trustedProxiesWide,
    rateLimit: {
      max: r.int('RATE_LIMIT_MAX', { default: 100, min: 1, max: 1_000_000 }),
      windowSeconds: r.int('RATE_LIMIT_WINDOW_SECONDS', { default: 60, min: 1, max: 86400 }),
      storeSize: r.int('RATE_LIMIT_STORE_SIZE', { default: 50_000, min: 1000, max: 10_000_000 }),
    },
    maxPendingLogins: r.int('SAML_MAX_PENDING_LOGINS', { default: 20, min: 1, max: 10_000 }),
    cookie: {
      name: r.string('COOKIE_NAME', { default: DEFAULT_COOKIE_NAME }) ?? DEFAULT_COOKIE_NAME,
      ...(cookieDomain !== undefined ? { domain: cookieDomain } : {}),
      secure: r.bool('COOKIE_SECURE', true),
      sameSite: r.oneOf('COOKIE_SAMESITE', ['Lax', 'Strict'] as const, 'Lax'),
    },
    allowedReturnUrls,
    ...(defaultReturnUrl !== undefined ? { defaultReturnUrl } : {}),
    sweepIntervalSeconds: r.int('SWEEP_INTERVAL_SECONDS', { default: 300, min: 0, max: 86400 }),
    groupsFilter: readGroupsFilter(r),
    session: {
      idleTimeoutSeconds: r.int('SESSION_IDLE_TIMEOUT_SECONDS', { default: 1800, min: 60, max: 7 * 86400 }),
      maxLifetimeSeconds: r.int('SESSION_MAX_LIFETIME_SECONDS', { default: 43_200, min: 60, max: 30 * 86400 }),
      cookieName: '',
    },
  };
  config.session.cookieName = `${config.cookie.name}${SESSION_COOKIE_SUFFIX}`;
  // Activity is seen only at renewal, once per token lifetime: an idle timeout no longer than the token
  // lifetime would end every session at its first renewal.
  if (config.session.idleTimeoutSeconds <= config.jwt.ttlSeconds) {
    r.fail('SESSION_IDLE_TIMEOUT_SECONDS', `must exceed JWT_TTL_SECONDS (${config.jwt.ttlSeconds}): activity is seen when a token is renewed, once per token lifetime`);
  }
  if (config.session.maxLifetimeSeconds < config.jwt.ttlSeconds) {
    r.fail('SESSION_MAX_LIFETIME_SECONDS', `must be at least JWT_TTL_SECONDS (${config.jwt.ttlSeconds})`);
  }
  if (!HTTP_TOKEN.test(config.cookie.name)) r.fail('COOKIE_NAME', 'expected a cookie-name token');
  else if (config.cookie.name.toLowerCase().startsWith(LOGIN_STATE_PREFIX.toLowerCase())) r.fail('COOKIE_NAME', `${LOGIN_STATE_PREFIX}… names the login-state cookies`);
  const prefixProblem = cookiePrefixProblem(config.cookie.name, config.cookie);
  if (prefixProblem !== undefined) r.fail(config.cookie.domain !== undefined ? 'COOKIE_DOMAIN' : 'COOKIE_SECURE', prefixProblem);
  r.done();
  return config;
}

