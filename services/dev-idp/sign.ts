import '../token-service/saml/xmldom-compat.js';
import { X509Certificate, randomBytes } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import xmlenc from 'xml-encryption';
import type { KeyPair } from './keys.js';
import { assertionXml, encryptedAssertionXml, responseXml, xsDateTime, type Prefixes } from './template.js';

export type SignWhat = 'assertion' | 'response' | 'both' | 'none';
export type ShaName = 'sha1' | 'sha256' | 'sha512';
export type ContentEncryption = 'aes256-gcm' | 'aes128-gcm' | 'aes256-cbc' | 'aes128-cbc';

/** Every knob of a development/test SAML Response. `null` leaves an element or attribute out. */
export interface SignSamlResponseOptions {
  idp: KeyPair;
  /** The Assertion's Issuer, and the Response's unless `responseIssuer` says otherwise. */
  issuer: string;
  responseIssuer?: string | null;
  acsUrl: string;
  /** Audiences of the one AudienceRestriction; `null` = no AudienceRestriction. */
  audience: string | readonly string[] | null;
  destination?: string | null; // default acsUrl
  recipient?: string | null; // default acsUrl
  nameId?: string | null; // default alice@example.com
  nameIdFormat?: string;
  email?: string | null;
  groups?: readonly string[] | null;
  emailAttribute?: string; // default 'email'
  groupsAttribute?: string; // default 'groups'
  /** More attributes, in order (after email and groups). */
  attributes?: Readonly<Record<string, readonly string[]>>;
  inResponseTo?: string | null; // default none (IdP-initiated)
  subjectInResponseTo?: string | null; // default = inResponseTo
  now?: Date;
  issueInstant?: Date; // default now
  notBefore?: Date | null; // default now - 30 s
  notOnOrAfter?: Date | null; // default now + 5 min
  subjectNotOnOrAfter?: Date | null; // default now + 5 min
  authnInstant?: Date; // default now
  sessionIndex?: string | null; // default random
  sessionNotOnOrAfter?: Date | null; // default none
  statusCode?: string; // default Success
  sign?: SignWhat; // default 'assertion'
  signatureAlgorithm?: ShaName; // default sha256 (rsa-…)
  digestAlgorithm?: ShaName; // default sha256
  bearerMethod?: string;
  /** Encrypt the (signed) assertion to an SP certificate, RSA-OAEP key transport. */
  encrypt?: { cert: string; algorithm?: ContentEncryption };
  /** Namespace prefixes, e.g. { protocol: 'saml2p', assertion: 'saml2' }; '' = default namespace. */
  prefixes?: Partial<Prefixes>;
  responseId?: string;
  assertionId?: string;
  /** Hooks to break things: the assertion before signing, after signing (before encryption), the
   *  Response before its signature, the final document. */
  mutateAssertion?: (xml: string) => string;
  mutateSignedAssertion?: (xml: string) => string;
  mutateResponse?: (xml: string) => string;
  mutateSigned?: (xml: string) => string;
}

export interface SignedSamlResponse {
  samlResponse: string;
  xml: string;
  assertionId: string;
}

const SIGNATURE_METHODS = {
  sha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  sha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  sha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
} as const;
const DIGEST_METHODS = {
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
} as const;
const CONTENT_ENCRYPTION = {
  'aes256-gcm': 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  'aes128-gcm': 'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'aes256-cbc': 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  'aes128-cbc': 'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
} as const;

export const newSamlId = (): string => `_${randomBytes(16).toString('hex')}`;
const identity = (xml: string): string => xml;

/** Builds a SAML Response and signs it with xml-crypto (not node-saml), like an IdP does. */
export async function signSamlResponse(o: SignSamlResponseOptions): Promise<SignedSamlResponse> {
  const now = o.now ?? new Date();
  const at = (d: Date | null | undefined, offsetMs: number): string | null => (d === null ? null : xsDateTime(d ?? new Date(now.getTime() + offsetMs)));
  const prefixes: Prefixes = { protocol: o.prefixes?.protocol ?? 'samlp', assertion: o.prefixes?.assertion ?? 'saml' };
  const assertionId = o.assertionId ?? newSamlId();
  const responseId = o.responseId ?? newSamlId();
  const inResponseTo = o.inResponseTo ?? null;
  const audience = o.audience;
  const attributes: Array<readonly [string, readonly string[]]> = [];
  if (o.email !== null) attributes.push([o.emailAttribute ?? 'email', [o.email ?? 'alice@example.com']]);
  if (o.groups !== null) attributes.push([o.groupsAttribute ?? 'groups', o.groups ?? []]);
  attributes.push(...Object.entries(o.attributes ?? {}));

  let assertion = (o.mutateAssertion ?? identity)(assertionXml({
    id: assertionId,
    issueInstant: xsDateTime(o.issueInstant ?? now),
    issuer: o.issuer,
    nameId: o.nameId === undefined ? 'alice@example.com' : o.nameId,
    nameIdFormat: o.nameIdFormat ?? 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    bearerMethod: o.bearerMethod ?? 'urn:oasis:names:tc:SAML:2.0:cm:bearer',
    recipient: o.recipient === undefined ? o.acsUrl : o.recipient,
    subjectInResponseTo: o.subjectInResponseTo === undefined ? inResponseTo : o.subjectInResponseTo,
    subjectNotOnOrAfter: at(o.subjectNotOnOrAfter, 5 * 60_000),
    notBefore: at(o.notBefore, -30_000),
    notOnOrAfter: at(o.notOnOrAfter, 5 * 60_000),
    audiences: audience === null ? null : typeof audience === 'string' ? [audience] : audience,
    authnInstant: xsDateTime(o.authnInstant ?? now),
    sessionIndex: o.sessionIndex === undefined ? newSamlId() : o.sessionIndex,
    sessionNotOnOrAfter: o.sessionNotOnOrAfter ? xsDateTime(o.sessionNotOnOrAfter) : null,
    attributes,
  }, prefixes.assertion));

  const sign = o.sign ?? 'assertion';
  if (sign === 'assertion' || sign === 'both') assertion = signElement(assertion, assertionId, true, o);
  assertion = (o.mutateSignedAssertion ?? identity)(assertion);
  if (o.encrypt) assertion = encryptedAssertionXml(await encrypt(assertion, o.encrypt), prefixes.assertion);

  const responseIssuer = o.responseIssuer === undefined ? o.issuer : o.responseIssuer;
  let xml = (o.mutateResponse ?? identity)(responseXml({
    id: responseId,
    issueInstant: xsDateTime(o.issueInstant ?? now),
    destination: o.destination === undefined ? o.acsUrl : o.destination,
    inResponseTo,
    issuer: responseIssuer,
    statusCode: o.statusCode ?? 'urn:oasis:names:tc:SAML:2.0:status:Success',
    assertion,
  }, prefixes));
  if (sign === 'response' || sign === 'both') xml = signElement(xml, responseId, responseIssuer !== null, o);
  xml = (o.mutateSigned ?? identity)(xml);
  return { samlResponse: Buffer.from(xml, 'utf8').toString('base64'), xml, assertionId };
}

/** Enveloped, exclusive-c14n signature of the element with this ID, placed right after its Issuer. */
function signElement(xml: string, id: string, afterIssuer: boolean, o: SignSamlResponseOptions): string {
  const sig = new SignedXml({
    privateKey: o.idp.key,
    publicCert: o.idp.cert,
    signatureAlgorithm: SIGNATURE_METHODS[o.signatureAlgorithm ?? 'sha256'],
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  const element = `//*[@ID='${id}']`;
  sig.addReference({
    xpath: element,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: DIGEST_METHODS[o.digestAlgorithm ?? 'sha256'],
  });
  const location = afterIssuer
    ? { reference: `${element}/*[local-name(.)='Issuer']`, action: 'after' as const }
    : { reference: element, action: 'prepend' as const };
  sig.computeSignature(xml, { prefix: 'ds', location });
  return sig.getSignedXml();
}

function encrypt(xml: string, to: { cert: string; algorithm?: ContentEncryption }): Promise<string> {
  const publicKey = new X509Certificate(to.cert).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return new Promise((resolve, reject) => {
    xmlenc.encrypt(xml, {
      rsa_pub: publicKey,
      pem: to.cert,
      encryptionAlgorithm: CONTENT_ENCRYPTION[to.algorithm ?? 'aes256-gcm'],
      keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
      // CBC is what several IdPs (Okta by default) still send; the tests need it.
      disallowEncryptionWithInsecureAlgorithm: false,
      warnInsecureAlgorithm: false,
    }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}
