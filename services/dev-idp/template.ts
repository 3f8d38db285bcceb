/** Unsigned SAML 2.0 XML for the development IdP (string templates; every value escaped). */

export const SAML_NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
} as const;

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** xs:dateTime in UTC without milliseconds, as IdPs send it. */
export const xsDateTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A namespace prefix ('' = the default namespace). */
export interface Prefixes {
  protocol: string;
  assertion: string;
}

const tag = (prefix: string, name: string): string => (prefix === '' ? name : `${prefix}:${name}`);
const xmlns = (prefix: string, ns: string): string => (prefix === '' ? `xmlns="${ns}"` : `xmlns:${prefix}="${ns}"`);
const attrs = (pairs: Record<string, string | null | undefined>): string =>
  Object.entries(pairs).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => ` ${k}="${escapeXml(v as string)}"`).join('');

export interface AssertionFields {
  id: string;
  issueInstant: string;
  issuer: string;
  nameId: string | null;
  nameIdFormat: string;
  bearerMethod: string;
  recipient: string | null;
  subjectInResponseTo: string | null;
  subjectNotOnOrAfter: string | null;
  notBefore: string | null;
  notOnOrAfter: string | null;
  audiences: readonly string[] | null;
  authnInstant: string;
  sessionIndex: string | null;
  /** AuthnStatement SessionNotOnOrAfter: when the IdP wants the SP's session to end (absent when undefined). */
  sessionNotOnOrAfter?: string | null;
  attributes: ReadonlyArray<readonly [name: string, values: readonly string[]]>;
}

/** A standalone Assertion element: it declares its own namespace so that it can be signed and encrypted alone. */
export function assertionXml(f: AssertionFields, prefix: string): string {
  const a = (name: string): string => tag(prefix, name);
  const nameId = f.nameId === null ? '' : `<${a('NameID')}${attrs({ Format: f.nameIdFormat })}>${escapeXml(f.nameId)}</${a('NameID')}>`;
  const audience = f.audiences === null ? ''
    : `<${a('AudienceRestriction')}>${f.audiences.map((x) => `<${a('Audience')}>${escapeXml(x)}</${a('Audience')}>`).join('')}</${a('AudienceRestriction')}>`;
  const attributes = f.attributes.length === 0 ? '' : `<${a('AttributeStatement')}>${f.attributes.map(([name, values]) =>
    `<${a('Attribute')}${attrs({ Name: name, NameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic' })}>${values.map((v) =>
      `<${a('AttributeValue')} xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${escapeXml(v)}</${a('AttributeValue')}>`).join('')}</${a('Attribute')}>`).join('')}</${a('AttributeStatement')}>`;
  return `<${a('Assertion')} ${xmlns(prefix, SAML_NS.assertion)}${attrs({ ID: f.id, Version: '2.0', IssueInstant: f.issueInstant })}>`
    + `<${a('Issuer')}>${escapeXml(f.issuer)}</${a('Issuer')}>`
    + `<${a('Subject')}>${nameId}<${a('SubjectConfirmation')}${attrs({ Method: f.bearerMethod })}>`
    + `<${a('SubjectConfirmationData')}${attrs({ InResponseTo: f.subjectInResponseTo, NotOnOrAfter: f.subjectNotOnOrAfter, Recipient: f.recipient })}/>`
    + `</${a('SubjectConfirmation')}></${a('Subject')}>`
    + `<${a('Conditions')}${attrs({ NotBefore: f.notBefore, NotOnOrAfter: f.notOnOrAfter })}>${audience}</${a('Conditions')}>`
    + `<${a('AuthnStatement')}${attrs({ AuthnInstant: f.authnInstant, SessionIndex: f.sessionIndex, SessionNotOnOrAfter: f.sessionNotOnOrAfter ?? null })}>`
    + `<${a('AuthnContext')}><${a('AuthnContextClassRef')}>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</${a('AuthnContextClassRef')}></${a('AuthnContext')}>`
    + `</${a('AuthnStatement')}>${attributes}</${a('Assertion')}>`;
}

/** An `<EncryptedAssertion>` around xml-encryption's EncryptedData. */
export function encryptedAssertionXml(encryptedData: string, prefix: string): string {
  return `<${tag(prefix, 'EncryptedAssertion')} ${xmlns(prefix, SAML_NS.assertion)}>${encryptedData}</${tag(prefix, 'EncryptedAssertion')}>`;
}

export interface ResponseFields {
  id: string;
  issueInstant: string;
  destination: string | null;
  inResponseTo: string | null;
  issuer: string | null;
  statusCode: string;
  /** The (signed, or encrypted) assertion XML, embedded as is. */
  assertion: string;
}

export function responseXml(f: ResponseFields, prefixes: Prefixes): string {
  const p = (name: string): string => tag(prefixes.protocol, name);
  const issuer = f.issuer === null ? ''
    : `<${tag(prefixes.assertion, 'Issuer')} ${xmlns(prefixes.assertion, SAML_NS.assertion)}>${escapeXml(f.issuer)}</${tag(prefixes.assertion, 'Issuer')}>`;
  return `<${p('Response')} ${xmlns(prefixes.protocol, SAML_NS.protocol)}`
    + `${attrs({ ID: f.id, Version: '2.0', IssueInstant: f.issueInstant, Destination: f.destination, InResponseTo: f.inResponseTo })}>`
    + `${issuer}<${p('Status')}><${p('StatusCode')}${attrs({ Value: f.statusCode })}/></${p('Status')}>`
    + `${f.assertion}</${p('Response')}>`;
}
