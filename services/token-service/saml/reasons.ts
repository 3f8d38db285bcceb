import type { IdpEntry } from '../idps/types.js';
/**
 * Why a SAML Response was refused: a closed list, used as the `reason` label of the rejection metric
 * (pre-register every value) and in the audit log. The client only ever sees one generic 401.
 */
export const SAML_REJECT_REASONS = [
  /** Not base64, empty, not UTF-8, not well-formed XML, not a samlp:Response, or not exactly one assertion. */
  'malformed',
  /** The base64 input or the decoded XML is larger than `maxResponseBytes`. */
  'too_large',
  /** The document contains `<!DOCTYPE` or `<!ENTITY` (in any case, spacing or encoding). */
  'dtd_forbidden',
  /** An EncryptedAssertion without a configured key, or one that does not decrypt. */
  'decryption_failed',
  /** A signature the policy requires is absent (or no signature at all under `either`). */
  'unsigned',
  /** The assertion's Issuer names no configured IdP (only with several IdPs; with one, that is `wrong_issuer`). */
  'unknown_idp',
  /** The assertion names a configured IdP whose metadata was never fetched, so it has no certificates yet. */
  'idp_unavailable',
  /** The assertion names one configured IdP; its signature does not verify and carries another configured IdP's certificate (KeyInfo). */
  'cross_idp_signature',
  /** A signature present does not verify against any configured IdP certificate. */
  'bad_signature',
  /** SHA-1 or MD5 in a signature or digest, or RSA-1.5/3DES in the encryption. */
  'weak_algorithm',
  /** Response `Destination` absent (on a signed Response) or not the ACS URL (signed or not). */
  'wrong_destination',
  /** Top-level StatusCode is not Success. */
  'status_not_success',
  /** Response (signed or not) or Assertion `Issuer` is not the configured IdP entity id. */
  'wrong_issuer',
  /** No AudienceRestriction, or one that does not name our SP entity id. */
  'wrong_audience',
  /** No bearer SubjectConfirmation whose `Recipient` is the ACS URL. */
  'wrong_recipient',
  /** No SubjectConfirmation with the bearer method. */
  'not_bearer',
  /** Conditions or SubjectConfirmationData `NotOnOrAfter` passed (or missing on the bearer confirmation). */
  'expired',
  /** Conditions `NotBefore` (or the assertion's or signed Response's IssueInstant) is in the future, beyond the skew. */
  'not_yet_valid',
  /** The assertion's (or signed Response's) IssueInstant is older than `maxAssertionAgeSeconds`. */
  'too_old',
  /** No NameID in the assertion's Subject, or one that is empty once XML whitespace is trimmed. */
  'missing_subject',
  /**
   * The NameID's Format is `transient` (a new subject at every sign-in: rules on subjects and
   * `revoke --subject` would silently miss) while SAML_ALLOW_TRANSIENT_NAMEID is off. Answered 403
   * with a page saying what to change at the IdP.
   */
  'transient_name_id',
  /** A NameID holding a control or format character, or a separator other than a space (emailAddress: any space). */
  'invalid_name_id',
  /** The email attribute holds a space or an invisible character, or a group value a control character. */
  'invalid_attribute_value',
  /** The SubjectConfirmationData `InResponseTo` differs from the signed Response's, or an unsigned Response names a request the signed assertion does not. */
  'in_response_to_mismatch',
  /** No `InResponseTo` in signed data (signed Response or the assertion's bearer confirmation) while IdP-initiated login is not allowed. */
  'unsolicited_response',
  /** (Checked by the caller against Postgres.) `InResponseTo` names no outstanding, unused request. */
  'unknown_in_response_to',
  /** (Checked by the caller against Postgres.) `InResponseTo` names a request that was sent to another IdP. */
  'idp_mismatch',
  /** (Checked by the caller against Postgres.) The assertion id was already used. */
  'replay',
  /**
   * (Checked by the caller, after the groups filter.) The token would be refused by `/auth` or dropped
   * by a browser as a cookie: answered 403 before anything is written (the assertion is not spent).
   */
  'token_too_large',
  /** (Checked by the caller.) A browser posts a response to a request it did not start: no matching login-state cookie. */
  'login_state_mismatch',
] as const;

export type SamlRejectReason = (typeof SAML_REJECT_REASONS)[number];

/** Every refusal of a SAML Response. `detail` is for the log: it never contains the document. */
export class SamlRejection extends Error {
  readonly code = 'SAML_REJECTED';
  readonly statusCode = 401;
  constructor(
    readonly reason: SamlRejectReason,
    readonly detail: string,
  ) {
    super(`SAML response rejected: ${reason}`);
    this.name = 'SamlRejection';
  }

  /** The configured IdP the response was checked against, once known (for the metric and the audit event). */
  idp?: IdpEntry;
}

/** Throws the refusal; the detail is bounded (library messages can be long) and never holds the document. */
export function reject(reason: SamlRejectReason, detail: string): never {
  throw new SamlRejection(reason, detail.slice(0, 300));
}
