import type { Element } from '@xmldom/xmldom';
import type { SamlSettings } from './config.js';
import { reject } from './reasons.js';
import { NS, attr, instant, onlyChild } from './xml.js';
import { issuerOf } from './identity.js';
import type { VerifiedParts } from './signatures.js';

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/** Top-level StatusCode must be Success (checked before signatures: IdPs often leave errors unsigned). */
export function checkStatus(response: Element): void {
  const status = onlyChild(response, NS.protocol, 'Status');
  const code = status && onlyChild(status, NS.protocol, 'StatusCode');
  const value = code && attr(code, 'Value');
  if (value !== SUCCESS) reject('status_not_success', `StatusCode ${value === null ? 'missing' : 'not Success'}`);
}

/** A signed element's IssueInstant: present, not in the future, not older than `maxAssertionAgeSeconds`. */
export function checkIssueInstant(el: Element, what: string, cfg: SamlSettings, now: Date): Date {
  const issued = instant(el, 'IssueInstant');
  if (issued === null) return reject('malformed', `${what} without IssueInstant`);
  const skewMs = cfg.clockSkewSeconds * 1000;
  if (issued.getTime() > now.getTime() + skewMs) reject('not_yet_valid', `${what} IssueInstant is in the future`);
  if (cfg.maxAssertionAgeSeconds !== undefined && now.getTime() - issued.getTime() > cfg.maxAssertionAgeSeconds * 1000 + skewMs) {
    reject('too_old', `${what} IssueInstant is older than maxAssertionAgeSeconds`);
  }
  return issued;
}

/**
 * The Response-level checks, under one trust rule: a value read from an unsigned Response can add a
 * refusal (a Destination or Issuer that is present and wrong), never an acceptance. A signed Response
 * is held to everything: Success status, Destination (required) and Issuer, IssueInstant.
 * An unsigned Response's IssueInstant is not read at all: it proves nothing either way.
 */
export function checkResponse(parts: VerifiedParts, cfg: SamlSettings, now: Date): void {
  const signed = parts.signedResponse;
  const response = signed ?? parts.unsignedResponse;
  if (response === null) return reject('unsigned', 'no Response');
  const which = signed !== null ? 'signed Response' : 'unsigned Response';
  if (signed !== null) checkStatus(signed);
  const destination = attr(response, 'Destination');
  if (destination === null ? signed !== null : destination !== cfg.acsUrl) {
    reject('wrong_destination', destination === null ? 'signed Response has no Destination' : `${which} Destination is not the ACS URL`);
  }
  const issuer = issuerOf(response);
  if (issuer !== null && issuer !== cfg.idpIssuer) reject('wrong_issuer', `${which} Issuer`);
  if (signed !== null) checkIssueInstant(signed, 'signed Response', cfg, now);
}

/**
 * The request this login answers, from signed data only: the signed Response's `InResponseTo`, else
 * the one in the signed assertion's bearer SubjectConfirmationData (where the Web SSO profile puts
 * it). Both signed and different → `in_response_to_mismatch`. None while IdP-initiated login is off →
 * `unsolicited_response`. An unsigned Response naming a request that the signed data does not (absent
 * or different) → `in_response_to_mismatch`: it is never taken as the answer to a request (issue 12
 * item 3: a request id written into the Response around an unsolicited signed assertion).
 */
export function resolveInResponseTo(parts: VerifiedParts, confirmationInResponseTo: string | null, cfg: SamlSettings): string | null {
  const signedValue = parts.signedResponse === null ? null : attr(parts.signedResponse, 'InResponseTo');
  if (signedValue !== null && confirmationInResponseTo !== null && signedValue !== confirmationInResponseTo) {
    reject('in_response_to_mismatch', 'SubjectConfirmationData InResponseTo differs from the signed Response');
  }
  const inResponseTo = signedValue ?? confirmationInResponseTo;
  if (inResponseTo === null && !cfg.allowIdpInitiated) {
    reject('unsolicited_response', 'no InResponseTo in signed data and IdP-initiated login is off');
  }
  const claimed = parts.unsignedResponse === null ? null : attr(parts.unsignedResponse, 'InResponseTo');
  if (claimed !== null && claimed !== inResponseTo) {
    reject('in_response_to_mismatch', 'the unsigned Response names a request that the signed assertion does not');
  }
  return inResponseTo;
}
