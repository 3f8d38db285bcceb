import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';

export const SIGNATURE_POLICIES = ['either', 'assertion', 'response', 'both'] as const;
export type SignaturePolicy = (typeof SIGNATURE_POLICIES)[number];

/** The validated SAML settings of the token-service (built once at start-up by `samlSettings`). */
export interface SamlSettings {
  /** PEM certificates of the IdP; several during a key rollover. */
  readonly idpCerts: readonly string[];
  readonly idpIssuer: string;
  readonly idpSsoUrl: string;
  /** Our entity id: the required Audience and the Issuer of our AuthnRequests. */
  readonly spEntityId: string;
  readonly acsUrl: string;
  readonly signaturePolicy: SignaturePolicy;
  readonly clockSkewSeconds: number;
  /** Refuse assertions whose IssueInstant is older than this (plus skew). */
  readonly maxAssertionAgeSeconds?: number;
  /** PEM private key for EncryptedAssertion. */
  readonly decryptionKey?: string;
  readonly emailAttribute: string;
  readonly groupsAttribute: string;
  readonly allowIdpInitiated: boolean;
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
  /** The NameID format asked for in the metadata and the AuthnRequest's NameIDPolicy. */
  readonly nameIdFormat: string;
  /** Accept a `transient` NameID (a new subject at every sign-in): off by default. */
  readonly allowTransientNameId: boolean;
  /** The IdP's SingleLogoutService (HTTP-Redirect). With `spSigningKey`, SLO is on (see `sloEnabled`). */
  readonly idpSloUrl?: string;
  /** Our SingleLogoutService URL, the required Destination of logout messages sent to us. */
  readonly sloUrl: string;
}

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
  const s: SamlSettings = { ...SAML_DEFAULTS, sloUrl: defaultSloUrl(input.acsUrl), ...input, idpCerts: [...input.idpCerts] };
  if (s.idpCerts.length === 0) throw new SamlConfigError('idpCerts', 'at least one certificate is required');
  s.idpCerts.forEach((pem) => assertCert('idpCerts', pem));
  for (const field of ['idpIssuer', 'spEntityId', 'emailAttribute', 'groupsAttribute'] as const) {
    if (s[field].trim() === '') throw new SamlConfigError(field, 'must not be empty');
  }
  for (const field of ['idpSsoUrl', 'acsUrl', 'sloUrl', 'idpSloUrl'] as const) {
    const v = s[field];
    if (v === undefined) continue;
    if (!URL.canParse(v) || !/^https?:$/.test(new URL(v).protocol)) {
      throw new SamlConfigError(field, 'must be an absolute http(s) URL');
    }
  }
  if (!SIGNATURE_POLICIES.includes(s.signaturePolicy)) {
    throw new SamlConfigError('signaturePolicy', `must be one of ${SIGNATURE_POLICIES.join(', ')}`);
  }
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
  if (s.nameIdFormat.trim() === '' || !/^urn:/.test(s.nameIdFormat)) throw new SamlConfigError('nameIdFormat', 'must be a NameID format URN');
  return Object.freeze(s);
}

/** The SP signing key and certificate come together, and the certificate is the key's. */
function checkSigningPair(s: SamlSettings): void {
  if (s.spSigningKey === undefined) {
    if (s.idpSloUrl !== undefined) throw new SamlConfigError('idpSloUrl', 'needs the SP signing key and certificate (logout messages are signed)');
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
