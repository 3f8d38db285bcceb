import type { Element } from '@xmldom/xmldom';
import { TRANSIENT_FORMAT, type SamlSettings } from './config.js';
import { reject } from './reasons.js';
import { NS, attr, children, instant, onlyChild } from './xml.js';
import { emailOf, groupsOf, issuerOf, subjectOf, trimXmlSpace } from './identity.js';
import { checkIssueInstant } from './response.js';

export interface ValidatedAssertion {
  assertionId: string;
  issuer: string;
  nameId: string;
  nameIdFormat?: string;
  sessionIndex: string | null;
  /** From signed data only: the signed Response, else the bearer SubjectConfirmationData; null = IdP-initiated. */
  inResponseTo: string | null;
  /** The earliest of Conditions and SubjectConfirmationData NotOnOrAfter: how long to remember the id. */
  notOnOrAfter: Date;
  email: string | null;
  /** The values of the groups attribute (possibly none), unsplit, normalised (identity.ts), each once. */
  groups: string[];
  authnInstant: Date | null;
  /** The AuthnStatement's SessionNotOnOrAfter: the SP's session must end by then (null: the IdP sets no bound). */
  sessionNotOnOrAfter: Date | null;
}

const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/** What the signed assertion says; the caller resolves `inResponseTo` with the Response (response.ts). */
export type AssertionFacts = Omit<ValidatedAssertion, 'inResponseTo'> & { confirmationInResponseTo: string | null };

/**
 * Every check on the verified assertion (never on the unsigned document); `now` and the skew bound
 * each time check. Identity values are normalised and checked by identity.ts.
 */
export function checkAssertion(assertion: Element, cfg: SamlSettings, now: Date): AssertionFacts {
  const skewMs = cfg.clockSkewSeconds * 1000;
  const t = now.getTime();

  const issuer = issuerOf(assertion);
  if (issuer !== cfg.idpIssuer) reject('wrong_issuer', issuer === null ? 'Assertion has no Issuer' : 'Assertion Issuer');

  const assertionId = attr(assertion, 'ID');
  if (!assertionId) return reject('malformed', 'Assertion without ID');
  checkIssueInstant(assertion, 'Assertion', cfg, now);

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
  const addressed = restrictions.every((r) => children(r, NS.assertion, 'Audience').some((a) => trimXmlSpace(a.textContent ?? '') === cfg.spEntityId));
  if (!addressed) reject('wrong_audience', 'an AudienceRestriction does not name the SP entity id');

  // Subject: NameID and a bearer confirmation for our ACS, still valid.
  const subject = onlyChild(assertion, NS.assertion, 'Subject');
  const nameIdEl = subject && onlyChild(subject, NS.assertion, 'NameID');
  if (subject === null || nameIdEl === null) return reject('missing_subject', 'no NameID in the Subject');
  const format = attr(nameIdEl, 'Format');
  // Any other format (persistent, unspecified, emailAddress when another was asked) is accepted: it
  // is stable between sign-ins; only transient changes every time (docs/single-logout.md).
  if (format !== null && trimXmlSpace(format) === TRANSIENT_FORMAT && !cfg.allowTransientNameId) {
    reject('transient_name_id', 'the NameID Format is transient and SAML_ALLOW_TRANSIENT_NAMEID is off');
  }
  // textContent joins every text node, so a comment inside the NameID cannot truncate it.
  const nameId = subjectOf(nameIdEl.textContent ?? '', format);
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

  const authn = children(assertion, NS.assertion, 'AuthnStatement')[0];
  const sessionEnd = authn ? instant(authn, 'SessionNotOnOrAfter') : null;
  // The IdP says the session it vouches for is already over: nothing to start a session on.
  if (sessionEnd !== null && t - skewMs >= sessionEnd.getTime()) reject('expired', 'AuthnStatement SessionNotOnOrAfter');
  return {
    assertionId,
    issuer: cfg.idpIssuer,
    nameId,
    ...(format === null ? {} : { nameIdFormat: format }),
    sessionIndex: authn ? attr(authn, 'SessionIndex') : null,
    confirmationInResponseTo: attr(confirmation, 'InResponseTo'),
    notOnOrAfter: conditionsEnd !== null && conditionsEnd < confirmationEnd ? conditionsEnd : confirmationEnd,
    email: emailOf(attributeValues(assertion, cfg.emailAttribute)[0]),
    groups: groupsOf(attributeValues(assertion, cfg.groupsAttribute)),
    authnInstant: authn ? instant(authn, 'AuthnInstant') : null,
    sessionNotOnOrAfter: sessionEnd,
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
