import { X509Certificate, createPrivateKey } from 'node:crypto';

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
  readonly spSigningCert?: string;
}

type Defaulted = 'signaturePolicy' | 'clockSkewSeconds' | 'maxResponseBytes' | 'authnRequestTtlSeconds'
  | 'allowIdpInitiated' | 'emailAttribute' | 'groupsAttribute';
export type SamlSettingsInput = Omit<SamlSettings, Defaulted> & Partial<Pick<SamlSettings, Defaulted>>;

export const SAML_DEFAULTS = {
  signaturePolicy: 'either',
  clockSkewSeconds: 60,
  maxResponseBytes: 256 * 1024,
  authnRequestTtlSeconds: 300,
  allowIdpInitiated: false,
  emailAttribute: 'email',
  groupsAttribute: 'groups',
} as const satisfies Pick<SamlSettings, Defaulted>;

export class SamlConfigError extends Error {
  readonly code = 'SAML_CONFIG_INVALID';
  constructor(readonly field: keyof SamlSettings, problem: string) {
    super(`SAML setting ${field}: ${problem}`);
    this.name = 'SamlConfigError';
  }
}

/** Applies the defaults and checks every field; throws `SamlConfigError` naming the field. */
export function samlSettings(input: SamlSettingsInput): SamlSettings {
  const s: SamlSettings = { ...SAML_DEFAULTS, ...input, idpCerts: [...input.idpCerts] };
  if (s.idpCerts.length === 0) throw new SamlConfigError('idpCerts', 'at least one certificate is required');
  s.idpCerts.forEach((pem) => assertCert('idpCerts', pem));
  for (const field of ['idpIssuer', 'spEntityId', 'emailAttribute', 'groupsAttribute'] as const) {
    if (s[field].trim() === '') throw new SamlConfigError(field, 'must not be empty');
  }
  for (const field of ['idpSsoUrl', 'acsUrl'] as const) {
    if (!URL.canParse(s[field]) || !/^https?:$/.test(new URL(s[field]).protocol)) {
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
  return Object.freeze(s);
}

function assertCert(field: keyof SamlSettings, pem: string): void {
  try {
    new X509Certificate(pem);
  } catch {
    throw new SamlConfigError(field, 'is not a PEM X.509 certificate');
  }
}
