import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';

export const SIGNATURE_POLICIES = ['either', 'assertion', 'response', 'both'] as const;
export type SignaturePolicy = (typeof SIGNATURE_POLICIES)[number];

/** Our side of SAML, one for the deployment whatever the number of IdPs. */
export interface SpSettings {
  /** Our entity id: the required Audience and the Issuer of our AuthnRequests. */
  readonly spEntityId: string;
  readonly acsUrl: string;
  readonly clockSkewSeconds: number;
  /** Refuse assertions whose IssueInstant is older than this (plus skew). */
  readonly maxAssertionAgeSeconds?: number;
  /** PEM private key for EncryptedAssertion. */
  readonly decryptionKey?: string;
  /** Cap on the base64 input and on the decoded XML. */
  readonly maxResponseBytes: number;
  /** How long an AuthnRequest id stays valid for InResponseTo. */
  readonly authnRequestTtlSeconds: number;
  /** Published in the metadata (encryption only when `decryptionKey` is set too). */
  readonly spDecryptionCert?: string;
  /** SP signing key pair (PEM): signs logout messages (required for SLO) and, optionally, AuthnRequests. */
  readonly spSigningKey?: string;
  readonly spSigningCert?: string;
  /** Sign AuthnRequests (HTTP-Redirect query signature); needs `spSigningKey`. */
  readonly signAuthnRequests: boolean;
  /** Our SingleLogoutService URL, the required Destination of logout messages sent to us. */
  readonly sloUrl: string;
}

/** One identity provider: what a response from it is checked against, and how to reach it. */
export interface IdpSettings {
  /** PEM certificates of the IdP; several during a key rollover. Only these verify its responses. */
  readonly idpCerts: readonly string[];
  /** Its entity id: the Issuer its responses must carry, and the token's `idp` claim. */
  readonly idpIssuer: string;
  readonly idpSsoUrl: string;
  /** The IdP's SingleLogoutService (HTTP-Redirect). With `spSigningKey`, SLO is on (see `sloEnabled`). */
  readonly idpSloUrl?: string;
  readonly signaturePolicy: SignaturePolicy;
  readonly emailAttribute: string;
  readonly groupsAttribute: string;
  readonly allowIdpInitiated: boolean;
  /** The NameID format asked for in the AuthnRequest's NameIDPolicy (and listed in the metadata). */
  readonly nameIdFormat: string;
  /** Accept a `transient` NameID (a new subject at every sign-in): off by default. */
  readonly allowTransientNameId: boolean;
}

/**
 * The validated SAML settings a response from one IdP is checked with: ours and that IdP's (built by
 * `samlSettings` for the single-IdP variables, by the IdP directory for SAML_IDPS_FILE).
 */
export interface SamlSettings extends SpSettings, IdpSettings {}

type Defaulted = 'signaturePolicy' | 'clockSkewSeconds' | 'maxResponseBytes' | 'authnRequestTtlSeconds'
  | 'allowIdpInitiated' | 'emailAttribute' | 'groupsAttribute' | 'signAuthnRequests' | 'nameIdFormat' | 'allowTransientNameId' | 'sloUrl';
export type SamlSettingsInput = Omit<SamlSettings, Defaulted> & Partial<Pick<SamlSettings, Defaulted>>;

export const SAML_DEFAULTS = {
  signaturePolicy: 'either',
  clockSkewSeconds: 60,
  maxResponseBytes: 256 * 1024,
  authnRequestTtlSeconds: 300,
  allowIdpInitiated: false,
  emailAttribute: 'email',
  groupsAttribute: 'groups',
  signAuthnRequests: false,
  nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  allowTransientNameId: false,
} as const satisfies Omit<Pick<SamlSettings, Defaulted>, 'sloUrl'>;

export const TRANSIENT_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';

/** Our SingleLogoutService by default: the ACS URL's origin + `/saml/slo`. */
export const defaultSloUrl = (acsUrl: string): string => (URL.canParse(acsUrl) ? new URL('/saml/slo', acsUrl).href : '');

/** SAML Single Logout is on when the IdP's SLO URL and our signing key are both configured. */
export const sloEnabled = (s: SamlSettings): s is SamlSettings & { idpSloUrl: string; spSigningKey: string; spSigningCert: string } =>
  s.idpSloUrl !== undefined && s.spSigningKey !== undefined && s.spSigningCert !== undefined;

export class SamlConfigError extends Error {
  readonly code = 'SAML_CONFIG_INVALID';
  constructor(readonly field: keyof SamlSettings, problem: string) {
    super(`SAML setting ${field}: ${problem}`);
    this.name = 'SamlConfigError';
  }
}

/** Applies the defaults and checks every field; throws `SamlConfigError` naming the field. */
export function samlSettings(input: SamlSettingsInput): SamlSettings {
  return withIdp(spSettings(input), input);
}

type SpDefaulted = Defaulted & keyof SpSettings;
type IdpDefaulted = Defaulted & keyof IdpSettings;
export type SpSettingsInput = Omit<SpSettings, SpDefaulted> & Partial<Pick<SpSettings, SpDefaulted>>;
export type IdpSettingsInput = Omit<IdpSettings, IdpDefaulted> & Partial<Pick<IdpSettings, IdpDefaulted>>;

const SP_FIELDS = ['spEntityId', 'acsUrl', 'clockSkewSeconds', 'maxAssertionAgeSeconds', 'decryptionKey', 'maxResponseBytes',
  'authnRequestTtlSeconds', 'spDecryptionCert', 'spSigningKey', 'spSigningCert', 'signAuthnRequests', 'sloUrl'] as const satisfies readonly (keyof SpSettings)[];
const IDP_FIELDS = ['idpCerts', 'idpIssuer', 'idpSsoUrl', 'idpSloUrl', 'signaturePolicy', 'emailAttribute', 'groupsAttribute',
  'allowIdpInitiated', 'nameIdFormat', 'allowTransientNameId'] as const satisfies readonly (keyof IdpSettings)[];

function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  const out: Partial<T> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out as Pick<T, K>;
}

/** Our side alone (defaults applied, every field checked); throws `SamlConfigError` naming the field. */
export function spSettings(input: SpSettingsInput): SpSettings {
  const d = SAML_DEFAULTS;
  const s: SpSettings = {
    clockSkewSeconds: d.clockSkewSeconds, maxResponseBytes: d.maxResponseBytes, authnRequestTtlSeconds: d.authnRequestTtlSeconds,
    signAuthnRequests: d.signAuthnRequests, sloUrl: defaultSloUrl(input.acsUrl), ...pick(input, SP_FIELDS),
  };
  if (s.spEntityId.trim() === '') throw new SamlConfigError('spEntityId', 'must not be empty');
  for (const field of ['acsUrl', 'sloUrl'] as const) assertHttpUrl(field, s[field]);
  const counts = ['clockSkewSeconds', 'maxResponseBytes', 'authnRequestTtlSeconds', 'maxAssertionAgeSeconds'] as const;
  for (const field of counts) {
    const v = s[field];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new SamlConfigError(field, 'must be a whole number ≥ 0');
  }
  if (s.decryptionKey !== undefined) {
    try {
      createPrivateKey(s.decryptionKey);
    } catch {
      throw new SamlConfigError('decryptionKey', 'is not a PEM private key');
    }
  }
  if (s.spDecryptionCert !== undefined) assertCert('spDecryptionCert', s.spDecryptionCert);
  if (s.spSigningCert !== undefined) assertCert('spSigningCert', s.spSigningCert);
  checkSigningPair(s);
  return Object.freeze(s);
}

/** One IdP's settings on top of ours (defaults applied, every field checked); throws `SamlConfigError`. */
export function withIdp(sp: SpSettings, input: IdpSettingsInput): SamlSettings {
  const d = SAML_DEFAULTS;
  const idp: IdpSettings = {
    signaturePolicy: d.signaturePolicy, emailAttribute: d.emailAttribute, groupsAttribute: d.groupsAttribute,
    allowIdpInitiated: d.allowIdpInitiated, nameIdFormat: d.nameIdFormat, allowTransientNameId: d.allowTransientNameId,
    ...pick(input, IDP_FIELDS), idpCerts: [...input.idpCerts],
  };
  if (idp.idpCerts.length === 0) throw new SamlConfigError('idpCerts', 'at least one certificate is required');
  idp.idpCerts.forEach((pem) => assertCert('idpCerts', pem));
  for (const field of ['idpIssuer', 'emailAttribute', 'groupsAttribute'] as const) {
    if (idp[field].trim() === '') throw new SamlConfigError(field, 'must not be empty');
  }
  for (const field of ['idpSsoUrl', 'idpSloUrl'] as const) assertHttpUrl(field, idp[field]);
  if (!SIGNATURE_POLICIES.includes(idp.signaturePolicy)) {
    throw new SamlConfigError('signaturePolicy', `must be one of ${SIGNATURE_POLICIES.join(', ')}`);
  }
  if (idp.idpSloUrl !== undefined && sp.spSigningKey === undefined) {
    throw new SamlConfigError('idpSloUrl', 'needs the SP signing key and certificate (logout messages are signed)');
  }
  if (idp.nameIdFormat.trim() === '' || !/^urn:/.test(idp.nameIdFormat)) throw new SamlConfigError('nameIdFormat', 'must be a NameID format URN');
  return Object.freeze({ ...sp, ...idp });
}

function assertHttpUrl(field: keyof SamlSettings, v: string | undefined): void {
  if (v === undefined) return;
  if (!URL.canParse(v) || !/^https?:$/.test(new URL(v).protocol)) {
    throw new SamlConfigError(field, 'must be an absolute http(s) URL');
  }
}

/** The SP signing key and certificate come together, and the certificate is the key's. */
function checkSigningPair(s: SpSettings): void {
  if (s.spSigningKey === undefined) {
    if (s.spSigningCert !== undefined) throw new SamlConfigError('spSigningKey', 'is required with the SP signing certificate');
    if (s.signAuthnRequests) throw new SamlConfigError('signAuthnRequests', 'needs the SP signing key');
    return;
  }
  let publicKey: string;
  try {
    const key = createPrivateKey(s.spSigningKey);
    if (key.asymmetricKeyType !== 'rsa') throw new SamlConfigError('spSigningKey', 'must be an RSA private key (what IdPs verify: rsa-sha256)');
    publicKey = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  } catch (err) {
    if (err instanceof SamlConfigError) throw err;
    throw new SamlConfigError('spSigningKey', 'is not a PEM private key');
  }
  if (s.spSigningCert === undefined) throw new SamlConfigError('spSigningCert', 'is required with the SP signing key (the IdP verifies with it)');
  const certKey = new X509Certificate(s.spSigningCert).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  if (certKey !== publicKey) throw new SamlConfigError('spSigningCert', 'is not the certificate of the SP signing key');
}

function assertCert(field: keyof SamlSettings, pem: string): void {
  try {
    new X509Certificate(pem);
  } catch {
    throw new SamlConfigError(field, 'is not a PEM X.509 certificate');
  }
}
