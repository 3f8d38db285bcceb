import '../token-service/saml/xmldom-compat.js';
import { X509Certificate, createPrivateKey, randomBytes, sign, verify } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';
import { escapeXml, xsDateTime } from './template.js';

/**
 * The IdP side of SAML Single Logout, written apart from the token-service's code (its own XML, its
 * own HTTP-Redirect encoding: application/x-www-form-urlencoded, as browsers and many IdPs write it)
 * so that each side checks the other. For the development IdP and the tests only.
 */
export const SIG_ALG = {
  sha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  sha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  sha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
} as const;
const DIGEST = { sha256: 'http://www.w3.org/2001/04/xmlenc#sha256', sha512: 'http://www.w3.org/2001/04/xmlenc#sha512', sha1: 'http://www.w3.org/2000/09/xmldsig#sha1' } as const;
export type Sha = keyof typeof SIG_ALG;

const newId = (): string => `_${randomBytes(16).toString('hex')}`;
const attrs = (pairs: Record<string, string | null | undefined>): string =>
  Object.entries(pairs).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => ` ${k}="${escapeXml(v as string)}"`).join('');

export interface LogoutRequestFields {
  issuer: string | null;
  destination: string | null;
  nameId: string | null;
  nameIdFormat?: string | null;
  sessionIndexes?: readonly string[];
  id?: string;
  issueInstant?: Date | null;
  notOnOrAfter?: Date | null;
}

export function logoutRequestXml(f: LogoutRequestFields): { id: string; xml: string } {
  const id = f.id ?? newId();
  const xml = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`
    + attrs({ ID: id, Version: '2.0', IssueInstant: f.issueInstant === null ? null : xsDateTime(f.issueInstant ?? new Date()), Destination: f.destination, NotOnOrAfter: f.notOnOrAfter ? xsDateTime(f.notOnOrAfter) : null }) + '>'
    + (f.issuer === null ? '' : `<saml:Issuer>${escapeXml(f.issuer)}</saml:Issuer>`)
    + (f.nameId === null ? '' : `<saml:NameID${attrs({ Format: f.nameIdFormat === undefined ? 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' : f.nameIdFormat })}>${escapeXml(f.nameId)}</saml:NameID>`)
    + (f.sessionIndexes ?? []).map((s) => `<samlp:SessionIndex>${escapeXml(s)}</samlp:SessionIndex>`).join('')
    + '</samlp:LogoutRequest>';
  return { id, xml };
}

export interface LogoutResponseFields {
  issuer: string | null;
  destination: string | null;
  inResponseTo: string | null;
  status?: string;
  secondStatus?: string;
  id?: string;
  issueInstant?: Date;
}

export function logoutResponseXml(f: LogoutResponseFields): { id: string; xml: string } {
  const id = f.id ?? newId();
  const second = f.secondStatus ? `<samlp:StatusCode Value="${escapeXml(f.secondStatus)}"/>` : '';
  const xml = `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`
    + attrs({ ID: id, Version: '2.0', IssueInstant: xsDateTime(f.issueInstant ?? new Date()), Destination: f.destination, InResponseTo: f.inResponseTo }) + '>'
    + (f.issuer === null ? '' : `<saml:Issuer>${escapeXml(f.issuer)}</saml:Issuer>`)
    + `<samlp:Status><samlp:StatusCode Value="${escapeXml(f.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success')}">${second}</samlp:StatusCode></samlp:Status>`
    + '</samlp:LogoutResponse>';
  return { id, xml };
}

/** Form encoding (space as `+`, `*` left as is): not the encoder the token-service uses. */
const formEncode = (s: string): string => new URLSearchParams({ v: s }).toString().slice(2);

/** The HTTP-Redirect query (no leading `?`) carrying `xml`, signed with `key` unless `sha` is null. */
export function redirectQuery(param: 'SAMLRequest' | 'SAMLResponse', xml: string, key: string, o: { relayState?: string; sha?: Sha | null } = {}): string {
  let q = `${param}=${formEncode(deflateRawSync(Buffer.from(xml)).toString('base64'))}`;
  if (o.relayState !== undefined) q += `&RelayState=${formEncode(o.relayState)}`;
  if (o.sha === null) return q;
  const sha = o.sha ?? 'sha256';
  q += `&SigAlg=${formEncode(SIG_ALG[sha])}`;
  const signature = sign(sha, Buffer.from(q), createPrivateKey(key)).toString('base64');
  return `${q}&Signature=${formEncode(signature)}`;
}

/** An enveloped signature on the root (HTTP-POST binding), after the Issuer; base64 of the document. */
export function signPost(xml: string, id: string, idp: { key: string; cert: string }, sha: Sha = 'sha256'): string {
  const sig = new SignedXml({ privateKey: idp.key, publicCert: idp.cert, signatureAlgorithm: SIG_ALG[sha], canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#' });
  const element = `//*[@ID='${id}']`;
  sig.addReference({ xpath: element, transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'], digestAlgorithm: DIGEST[sha] });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${element}/*[local-name(.)='Issuer']`, action: 'after' } });
  return Buffer.from(sig.getSignedXml()).toString('base64');
}

/**
 * Reads an SP's HTTP-Redirect message (the raw query) and verifies its signature with the SP's
 * certificate (parameters as sent). Throws when unsigned or badly signed. Returns the inflated XML.
 */
export function readSignedRedirect(rawQuery: string, spCert: string): { param: 'SAMLRequest' | 'SAMLResponse'; xml: string; relayState?: string } {
  const raw = new Map(rawQuery.split('&').map((kv) => [kv.slice(0, kv.indexOf('=') === -1 ? kv.length : kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
  const param = raw.has('SAMLRequest') ? 'SAMLRequest' : 'SAMLResponse';
  const message = raw.get(param);
  const sigAlg = raw.get('SigAlg');
  const signature = raw.get('Signature');
  if (message === undefined || sigAlg === undefined || signature === undefined) throw new Error('not a signed HTTP-Redirect message');
  if (decodeURIComponent(sigAlg) !== SIG_ALG.sha256) throw new Error('unexpected SigAlg');
  const relay = raw.get('RelayState');
  const signed = `${param}=${message}${relay === undefined ? '' : `&RelayState=${relay}`}&SigAlg=${sigAlg}`;
  if (!verify('sha256', Buffer.from(signed), new X509Certificate(spCert).publicKey, Buffer.from(decodeURIComponent(signature), 'base64'))) throw new Error('bad signature');
  const xml = inflateRawSync(Buffer.from(decodeURIComponent(message), 'base64'), { maxOutputLength: 64 * 1024 }).toString('utf8');
  return { param, xml, ...(relay === undefined ? {} : { relayState: decodeURIComponent(relay.replace(/\+/g, ' ')) }) };
}
