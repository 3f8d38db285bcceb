import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { readTrustedProxies } from '../shared/trusted-proxies.js';
import { EnvReader, type Env } from '../shared/env.js';
import { readCommonConfig, type CommonConfig } from '../shared/config.js';
import { JWT_ALGORITHMS, loadSigningKeys, splitPem, type JwtAlgorithm, type SigningKey } from '../shared/jwt-keys.js';
import { parseCidrList } from '../shared/cidr.js';
import { DEFAULT_COOKIE_NAME, cookiePrefixProblem } from '../shared/cookies.js';
import { HTTP_TOKEN } from '../shared/http-token.js';
import { LOGIN_STATE_PREFIX } from './routes/login-state.js';
import { SAML_DEFAULTS, SIGNATURE_POLICIES, SamlConfigError, spSettings, withIdp, type IdpSettingsInput, type SamlSettings, type SpSettings, type SpSettingsInput } from './saml/config.js';
import { readGroupsFilter, type GroupsFilter } from './tokens/groups-filter.js';
import { parseIdpsFile } from './idps/file.js';

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

const SAML_ENV_NAMES: Partial<Record<keyof SamlSettings, string>> = {
  idpCerts: 'SAML_IDP_CERT',
  idpIssuer: 'SAML_IDP_ISSUER',
  idpSsoUrl: 'SAML_IDP_SSO_URL',
  spEntityId: 'SAML_SP_ENTITY_ID',
  acsUrl: 'SAML_ACS_URL',
  decryptionKey: 'SAML_DECRYPTION_KEY',
  spDecryptionCert: 'SAML_DECRYPTION_CERT',
  emailAttribute: 'SAML_EMAIL_ATTRIBUTE',
  groupsAttribute: 'SAML_GROUPS_ATTRIBUTE',
  spSigningKey: 'SAML_SP_SIGNING_KEY',
  spSigningCert: 'SAML_SP_SIGNING_CERT',
  signAuthnRequests: 'SAML_SIGN_AUTHN_REQUESTS',
  nameIdFormat: 'SAML_NAMEID_FORMAT',
  idpSloUrl: 'SAML_IDP_SLO_URL',
  sloUrl: 'SAML_SLO_URL',
};

/** Reads and validates the token-service's environment; throws ConfigError naming every bad variable. */
export function loadTokenServiceConfig(env: Env): TokenServiceConfig {
  const r = new EnvReader(env);
  const common = readCommonConfig(r, { port: 8080, metricsPort: 9464 });

  const decryptionKey = r.string('SAML_DECRYPTION_KEY', { file: true });
  if (decryptionKey !== undefined && splitPem(decryptionKey, /(?:RSA )?PRIVATE KEY/).length !== 1) {
    r.fail('SAML_DECRYPTION_KEY', 'expected one PEM private key');
  }
  const spDecryptionCert = r.string('SAML_DECRYPTION_CERT', { file: true });
  const spSigningKey = r.string('SAML_SP_SIGNING_KEY', { file: true });
  if (spSigningKey !== undefined && splitPem(spSigningKey, /(?:RSA )?PRIVATE KEY/).length !== 1) {
    r.fail('SAML_SP_SIGNING_KEY', 'expected one PEM private key');
  }
  const spSigningCert = r.string('SAML_SP_SIGNING_CERT', { file: true });
  const sloUrl = r.url('SAML_SLO_URL');
  const maxAge = r.int('SAML_MAX_ASSERTION_AGE_SECONDS', { default: 0, min: 0, max: 7 * 86400 });
  const spInput: SpSettingsInput = {
    spEntityId: r.required('SAML_SP_ENTITY_ID'),
    acsUrl: r.url('SAML_ACS_URL', { required: true }) ?? '',
    clockSkewSeconds: r.int('SAML_CLOCK_SKEW_SECONDS', { default: 60, min: 0, max: 600 }),
    ...(maxAge > 0 ? { maxAssertionAgeSeconds: maxAge } : {}),
    ...(decryptionKey !== undefined ? { decryptionKey } : {}),
    ...(spDecryptionCert !== undefined ? { spDecryptionCert } : {}),
    ...(spSigningKey !== undefined ? { spSigningKey } : {}),
    ...(spSigningCert !== undefined ? { spSigningCert } : {}),
    ...(sloUrl !== undefined ? { sloUrl } : {}),
    signAuthnRequests: r.bool('SAML_SIGN_AUTHN_REQUESTS', false),
    maxResponseBytes: r.int('SAML_MAX_RESPONSE_BYTES', { default: 256 * 1024, min: 4096, max: 4 * 1024 * 1024 }),
    authnRequestTtlSeconds: r.int('SAML_REQUEST_TTL_SECONDS', { default: 300, min: 30, max: 3600 }),
  };
  // The per-IdP settings' values for the single-IdP variables, and the defaults of SAML_IDPS_FILE's entries.
  const idpDefaults = {
    signaturePolicy: r.oneOf('SAML_SIGNATURE_POLICY', SIGNATURE_POLICIES, 'either'),
    nameIdFormat: r.string('SAML_NAMEID_FORMAT', { default: SAML_DEFAULTS.nameIdFormat }) ?? '',
    allowTransientNameId: r.bool('SAML_ALLOW_TRANSIENT_NAMEID', false),
    emailAttribute: r.string('SAML_EMAIL_ATTRIBUTE', { default: 'email' }) ?? 'email',
    groupsAttribute: r.string('SAML_GROUPS_ATTRIBUTE', { default: 'groups' }) ?? 'groups',
    // Off by default: an unsolicited response cannot be bound to the browser that posts it (login CSRF).
    allowIdpInitiated: r.bool('SAML_ALLOW_IDP_INITIATED', false),
  } satisfies Partial<IdpSettingsInput>;

  let sp = spInput as SpSettings;
  if (r.problems.length === 0) {
    try {
      sp = spSettings(spInput);
    } catch (err) {
      if (!(err instanceof SamlConfigError)) throw err;
      r.fail(SAML_ENV_NAMES[err.field] ?? 'SAML', err.message);
    }
  }
  const idps = readIdpSource(r, sp, idpDefaults);
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

const SINGLE_IDP_VARIABLES = ['SAML_IDP_CERT', 'SAML_IDP_ISSUER', 'SAML_IDP_SSO_URL', 'SAML_IDP_SLO_URL'] as const;

/**
 * SAML_IDPS_FILE, or the single IdP of the SAML_IDP_* variables (not both). The file is read here only
 * to say at start-up that it cannot be; the IdP directory parses and validates it (and reloads it).
 */
function readIdpSource(r: EnvReader, sp: SpSettings, defaults: Partial<IdpSettingsInput>): TokenServiceConfig['idps'] {
  const path = r.string('SAML_IDPS_FILE');
  if (path !== undefined) {
    const alsoSet = SINGLE_IDP_VARIABLES.filter((name) => r.isSet(name));
    if (alsoSet.length > 0) r.fail('SAML_IDPS_FILE', `set either SAML_IDPS_FILE or the single-IdP variables (${alsoSet.join(', ')}), not both`);
    const reloadSeconds = r.int('SAML_IDPS_RELOAD_SECONDS', { default: 5, min: 0, max: 3600 });
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      r.fail('SAML_IDPS_FILE', `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // Validated now, so that start-up names every problem at once (the directory re-reads it, and reloads it).
    if (text !== undefined && r.problems.length === 0) {
      const parsed = parseIdpsFile(text, sp, defaults);
      if ('problems' in parsed) for (const problem of parsed.problems) r.fail('SAML_IDPS_FILE', `${path}: ${problem}`);
    }
    return { kind: 'file', path, reloadSeconds };
  }
  const certText = r.required('SAML_IDP_CERT', { file: true });
  const idpCerts = splitPem(certText, /CERTIFICATE/);
  if (certText && idpCerts.length === 0) r.fail('SAML_IDP_CERT', 'expected one or more PEM certificates (-----BEGIN CERTIFICATE-----)');
  const idpSloUrl = r.url('SAML_IDP_SLO_URL');
  const input: IdpSettingsInput = {
    ...defaults,
    idpCerts,
    idpIssuer: r.required('SAML_IDP_ISSUER'),
    idpSsoUrl: r.url('SAML_IDP_SSO_URL', { required: true }) ?? '',
    ...(idpSloUrl !== undefined ? { idpSloUrl } : {}),
  };
  let idp = { ...sp, ...input } as SamlSettings;
  if (r.problems.length === 0) {
    try {
      idp = withIdp(sp, input);
    } catch (err) {
      if (!(err instanceof SamlConfigError)) throw err;
      r.fail(SAML_ENV_NAMES[err.field] ?? 'SAML', err.message);
    }
  }
  return { kind: 'env', idp };
}
