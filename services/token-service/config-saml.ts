import { readFileSync } from 'node:fs';
import type { EnvReader } from '../shared/env.js';
import { splitPem } from '../shared/jwt-keys.js';
import { SAML_DEFAULTS, SIGNATURE_POLICIES, SamlConfigError, spSettings, withIdp, type IdpSettingsInput, type SamlSettings, type SpSettings, type SpSettingsInput } from './saml/config.js';
import { parseIdpsFile } from './idps/file.js';
import type { TokenServiceConfig } from './config.js';

/** The variable each SAML setting comes from, to name it in a configuration error. */
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

/**
 * The SAML part of the token-service's environment: our side (SpSettings), the per-IdP defaults, and
 * the IdPs — the single IdP of the SAML_IDP_* variables or SAML_IDPS_FILE (not both).
 */
export function readSamlConfig(r: EnvReader): Pick<TokenServiceConfig, 'sp' | 'idpDefaults' | 'idps'> {
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
  return { sp, idpDefaults, idps: readIdpSource(r, sp, idpDefaults) };
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
