import type { Element } from '@xmldom/xmldom';
import type { SamlSettings } from './config.js';
import { reject } from './reasons.js';
import { NS, attr, children, instant, onlyChild } from './xml.js';
import type { VerifiedParts } from './signatures.js';

export interface ValidatedAssertion {
  assertionId: string;
  issuer: string;
  nameId: string;
  nameIdFormat?: string;
  sessionIndex: string | null;
  /** From the Response, else from the bearer SubjectConfirmationData; null when absent (IdP-initiated). */
  inResponseTo: string | null;
  /** The earliest of Conditions and SubjectConfirmationData NotOnOrAfter: how long to remember the id. */
  notOnOrAfter: Date;
  email: string | null;
  /** Exactly the values of the groups attribute (possibly none), unsplit. */
  groups: string[];
  authnInstant: Date | null;
}

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/** Top-level StatusCode must be Success (checked before signatures: IdPs often leave errors unsigned). */
export function checkStatus(response: Element): void {
  const status = onlyChild(response, NS.protocol, 'Status');
  const code = status && onlyChild(status, NS.protocol, 'StatusCode');
  const value = code && attr(code, 'Value');
  if (value !== SUCCESS) reject('status_not_success', `StatusCode ${value === null ? 'missing' : 'not Success'}`);
}

/** Every check on the verified parts; `now` and the skew bound each time check. */
export function checkAssertion(parts: VerifiedParts, cfg: SamlSettings, now: Date): ValidatedAssertion {
  const { response, assertion } = parts;
  const skewMs = cfg.clockSkewSeconds * 1000;
  const t = now.getTime();

  const destination = attr(response, 'Destination');
  if (destination === null ? parts.responseSigned : destination !== cfg.acsUrl) {
    reject('wrong_destination', destination === null ? 'signed Response has no Destination' : 'Destination is not the ACS URL');
  }
  const responseIssuer = onlyChild(response, NS.assertion, 'Issuer');
  if (responseIssuer !== null && responseIssuer.textContent !== cfg.idpIssuer) reject('wrong_issuer', 'Response Issuer');
  const issuer = onlyChild(assertion, NS.assertion, 'Issuer')?.textContent ?? null;
  if (issuer !== cfg.idpIssuer) reject('wrong_issuer', issuer === null ? 'Assertion has no Issuer' : 'Assertion Issuer');

  const assertionId = attr(assertion, 'ID');
  const issueInstant = instant(assertion, 'IssueInstant');
  if (!assertionId || issueInstant === null) return reject('malformed', 'Assertion without ID or IssueInstant');
  if (issueInstant.getTime() > t + skewMs) reject('not_yet_valid', 'Assertion IssueInstant is in the future');
  if (cfg.maxAssertionAgeSeconds !== undefined && t - issueInstant.getTime() > cfg.maxAssertionAgeSeconds * 1000 + skewMs) {
    reject('too_old', 'Assertion IssueInstant is older than maxAssertionAgeSeconds');
  }

  // Conditions: time window and audience.
  const conditions = onlyChild(assertion, NS.assertion, 'Conditions');
  if (conditions === null) return reject('wrong_audience', 'Assertion has no Conditions');
  const notBefore = instant(conditions, 'NotBefore');
  const conditionsEnd = instant(conditions, 'NotOnOrAfter');
  if (notBefore !== null && t + skewMs < notBefore.getTime()) reject('not_yet_valid', 'Conditions NotBefore');
  if (conditionsEnd !== null && t - skewMs >= conditionsEnd.getTime()) reject('expired', 'Conditions NotOnOrAfter');
  const restrictions = children(conditions, NS.assertion, 'AudienceRestriction');
  if (restrictions.length === 0) reject('wrong_audience', 'no AudienceRestriction');
  // Each AudienceRestriction is evaluated on its own (SAML core 2.5.1.4): every one must name us.
  const addressed = restrictions.every((r) => children(r, NS.assertion, 'Audience').some((a) => a.textContent === cfg.spEntityId));
  if (!addressed) reject('wrong_audience', 'an AudienceRestriction does not name the SP entity id');

  // Subject: NameID and a bearer confirmation for our ACS, still valid.
  const subject = onlyChild(assertion, NS.assertion, 'Subject');
  const nameIdEl = subject && onlyChild(subject, NS.assertion, 'NameID');
  // textContent joins every text node, so a comment inside the NameID cannot truncate it.
  const nameId = nameIdEl?.textContent ?? '';
  if (subject === null || nameIdEl === null || nameId.trim() === '') return reject('missing_subject', 'no NameID in the Subject');
  const bearers = children(subject, NS.assertion, 'SubjectConfirmation').filter((c) => attr(c, 'Method') === BEARER);
  if (bearers.length === 0) reject('not_bearer', 'no bearer SubjectConfirmation');
  const confirmation = bearers
    .map((c) => onlyChild(c, NS.assertion, 'SubjectConfirmationData'))
    .find((d) => d !== null && attr(d, 'Recipient') === cfg.acsUrl);
  if (!confirmation) return reject('wrong_recipient', 'no bearer SubjectConfirmationData with the ACS URL as Recipient');
  const confirmationEnd = instant(confirmation, 'NotOnOrAfter');
  if (confirmationEnd === null) return reject('expired', 'bearer SubjectConfirmationData has no NotOnOrAfter');
  if (t - skewMs >= confirmationEnd.getTime()) reject('expired', 'SubjectConfirmationData NotOnOrAfter');
  const confirmationStart = instant(confirmation, 'NotBefore');
  if (confirmationStart !== null && t + skewMs < confirmationStart.getTime()) reject('not_yet_valid', 'SubjectConfirmationData NotBefore');

  const responseInResponseTo = attr(response, 'InResponseTo');
  const confirmationInResponseTo = attr(confirmation, 'InResponseTo');
  if (responseInResponseTo !== null && confirmationInResponseTo !== null && responseInResponseTo !== confirmationInResponseTo) {
    reject('in_response_to_mismatch', 'SubjectConfirmationData InResponseTo differs from the Response');
  }
  const inResponseTo = responseInResponseTo ?? confirmationInResponseTo;
  if (inResponseTo === null && !cfg.allowIdpInitiated) reject('unsolicited_response', 'no InResponseTo and IdP-initiated login is off');

  const authn = children(assertion, NS.assertion, 'AuthnStatement')[0];
  const format = attr(nameIdEl, 'Format');
  const email = attributeValues(assertion, cfg.emailAttribute)[0] ?? null;
  return {
    assertionId,
    issuer: cfg.idpIssuer,
    nameId,
    ...(format === null ? {} : { nameIdFormat: format }),
    sessionIndex: authn ? attr(authn, 'SessionIndex') : null,
    inResponseTo,
    notOnOrAfter: conditionsEnd !== null && conditionsEnd < confirmationEnd ? conditionsEnd : confirmationEnd,
    email: email === '' ? null : email,
    groups: attributeValues(assertion, cfg.groupsAttribute),
    authnInstant: authn ? instant(authn, 'AuthnInstant') : null,
  };
}

/** The text of every AttributeValue of the attributes with this Name (xsi:nil values left out). */
function attributeValues(assertion: Element, name: string): string[] {
  return children(assertion, NS.assertion, 'AttributeStatement')
    .flatMap((statement) => children(statement, NS.assertion, 'Attribute'))
    .filter((a) => attr(a, 'Name') === name)
    .flatMap((a) => children(a, NS.assertion, 'AttributeValue'))
    .filter((v) => v.getAttributeNS(NS.xsi, 'nil') !== 'true')
    .map((v) => v.textContent ?? '');
}
