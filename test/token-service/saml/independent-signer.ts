import { createHash, sign } from 'node:crypto';
import type { KeyPair } from '../../../services/dev-idp/keys.js';

/**
 * A second, independent SAML signer for the tests: node:crypto only (no xml-crypto, which both the
 * dev IdP and node-saml use), the XML written directly in exclusive-canonical form, `saml2p:`/`saml2:`
 * prefixes (Shibboleth, samlify) and a default-namespace `<Signature>` without KeyInfo (as some IdPs
 * send it). Only the assertion is signed; the Response around it is plain text the caller may edit.
 */
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
const attrEsc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\t/g, '&#x9;').replace(/\n/g, '&#xA;').replace(/\r/g, '&#xD;');
/** Attributes in canonical order (all unqualified here: sorted by name). */
const attrs = (pairs: Record<string, string | null>): string =>
  Object.entries(pairs).filter((e): e is [string, string] => e[1] !== null).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => ` ${k}="${attrEsc(v)}"`).join('');
const xs = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

const A = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const EXC = 'http://www.w3.org/2001/10/xml-exc-c14n#';

export interface IndependentDoc {
  idp: KeyPair;
  issuer: string;
  acsUrl: string;
  audience: string;
  now: Date;
  /** The NameID text exactly as written (may be pretty-printed). */
  nameIdText: string;
  /** On the signed SubjectConfirmationData; null = none (IdP-initiated). */
  subjectInResponseTo: string | null;
  /** On the unsigned Response; null = none. */
  responseInResponseTo: string | null;
  groups: string[];
}

/** The base64 SAMLResponse. */
export function independentlySigned(o: IndependentDoc): string {
  const id = `_ind${createHash('sha256').update(`${Math.random()}`).digest('hex').slice(0, 24)}`;
  const later = xs(new Date(o.now.getTime() + 5 * 60_000));
  const unsignedAssertion = (signature: string): string =>
    `<saml2:Assertion xmlns:saml2="${A}"${attrs({ ID: id, IssueInstant: xs(o.now), Version: '2.0' })}>`
    + `<saml2:Issuer>${esc(o.issuer)}</saml2:Issuer>${signature}`
    + `<saml2:Subject><saml2:NameID${attrs({ Format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' })}>${esc(o.nameIdText)}</saml2:NameID>`
    + `<saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">`
    + `<saml2:SubjectConfirmationData${attrs({ InResponseTo: o.subjectInResponseTo, NotOnOrAfter: later, Recipient: o.acsUrl })}></saml2:SubjectConfirmationData>`
    + `</saml2:SubjectConfirmation></saml2:Subject>`
    + `<saml2:Conditions${attrs({ NotBefore: xs(new Date(o.now.getTime() - 30_000)), NotOnOrAfter: later })}>`
    + `<saml2:AudienceRestriction><saml2:Audience>${esc(o.audience)}</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions>`
    + `<saml2:AuthnStatement${attrs({ AuthnInstant: xs(o.now), SessionIndex: `${id}_s` })}><saml2:AuthnContext>`
    + `<saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml2:AuthnContextClassRef>`
    + `</saml2:AuthnContext></saml2:AuthnStatement>`
    + `<saml2:AttributeStatement><saml2:Attribute Name="groups">${o.groups.map((g) => `<saml2:AttributeValue>${esc(g)}</saml2:AttributeValue>`).join('')}</saml2:Attribute></saml2:AttributeStatement>`
    + `</saml2:Assertion>`;

  // Enveloped signature: the digest is over the assertion without its Signature (already canonical).
  const digest = createHash('sha256').update(unsignedAssertion('')).digest('base64');
  const signedInfo = `<SignedInfo xmlns="${DS}"><CanonicalizationMethod Algorithm="${EXC}"></CanonicalizationMethod>`
    + `<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></SignatureMethod>`
    + `<Reference URI="#${id}"><Transforms><Transform Algorithm="${DS}enveloped-signature"></Transform><Transform Algorithm="${EXC}"></Transform></Transforms>`
    + `<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></DigestMethod><DigestValue>${digest}</DigestValue></Reference></SignedInfo>`;
  const value = sign('sha256', Buffer.from(signedInfo), o.idp.key).toString('base64');
  const signature = `<Signature xmlns="${DS}">${signedInfo.replace(` xmlns="${DS}"`, '')}<SignatureValue>${value}</SignatureValue></Signature>`;

  const response = `<saml2p:Response xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol"`
    + `${attrs({ Destination: o.acsUrl, ID: `${id}_r`, InResponseTo: o.responseInResponseTo, IssueInstant: xs(o.now), Version: '2.0' })}>`
    + `<saml2:Issuer xmlns:saml2="${A}">${esc(o.issuer)}</saml2:Issuer>`
    + `<saml2p:Status><saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></saml2p:Status>`
    + `${unsignedAssertion(signature)}</saml2p:Response>`;
  return Buffer.from(response, 'utf8').toString('base64');
}
