import type { SamlSettings, SpSettings } from './config.js';
import { certBody } from './xml.js';

/** What the SP metadata says about the configured IdPs: whether one has SLO, and the NameID formats they are asked for. */
export interface IdpFacts {
  slo: boolean;
  nameIdFormats: readonly string[];
}

export const idpFacts = (idps: readonly SamlSettings[]): IdpFacts =>
  ({ slo: idps.some((s) => s.idpSloUrl !== undefined), nameIdFormats: idps.map((s) => s.nameIdFormat) });

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');


function keyDescriptor(use: 'signing' | 'encryption', pem: string, methods: readonly string[] = []): string {
  const encryptionMethods = methods.map((m) => `\n      <md:EncryptionMethod Algorithm="${m}"/>`).join('');
  return `
    <md:KeyDescriptor use="${use}">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>${encryptionMethods}
    </md:KeyDescriptor>`;
}

/** What we decrypt, best first (RSA-OAEP key transport in every case). */
const ENCRYPTION_METHODS = [
  'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
] as const;

const BINDINGS = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;

/**
 * SP metadata: entity id, one HTTP-POST AssertionConsumerService at the ACS URL, assertions wanted
 * signed, AuthnRequestsSigned as configured; the signing certificate (SAML_SP_SIGNING_CERT) and the
 * encryption certificate only when a decryption key is configured too (an IdP that encrypts to a key
 * we do not hold would lock every user out); SingleLogoutService (HTTP-Redirect and HTTP-POST) only
 * when SLO is configured (our signing key, and an IdP's SLO URL); the NameID formats wanted (each IdP's,
 * SAML_NAMEID_FORMAT by default). One document whatever the number of IdPs. Schema order: KeyDescriptor,
 * SingleLogoutService, NameIDFormat, AssertionConsumerService.
 */
export function buildMetadata(cfg: SpSettings, idps: IdpFacts): string;
/** The metadata for one IdP's settings (the single-IdP variables). */
export function buildMetadata(cfg: SamlSettings): string;
export function buildMetadata(cfg: SpSettings | SamlSettings, given?: IdpFacts): string {
  const idps = given ?? idpFacts([cfg as SamlSettings]);
  const signing = cfg.spSigningCert === undefined ? '' : keyDescriptor('signing', cfg.spSigningCert);
  const encryption = cfg.spDecryptionCert === undefined || cfg.decryptionKey === undefined
    ? '' : keyDescriptor('encryption', cfg.spDecryptionCert, ENCRYPTION_METHODS);
  const slo = idps.slo && cfg.spSigningKey !== undefined
    ? (['redirect', 'post'] as const).map((b) => `
    <md:SingleLogoutService Binding="${BINDINGS[b]}" Location="${escapeXml(cfg.sloUrl)}"/>`).join('')
    : '';
  const nameIdFormat = [...new Set(idps.nameIdFormats)].map((f) => `
    <md:NameIDFormat>${escapeXml(f)}</md:NameIDFormat>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${escapeXml(cfg.spEntityId)}">
  <md:SPSSODescriptor AuthnRequestsSigned="${cfg.signAuthnRequests}" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${signing}${encryption}${slo}${nameIdFormat}
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${escapeXml(cfg.acsUrl)}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`;
}
