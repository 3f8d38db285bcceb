import { SamlRejection } from './reasons.js';

/**
 * Why a logout message (LogoutRequest or LogoutResponse, either binding) was refused: a closed list,
 * the `reason` label of `saml_slo_refused_total` (pre-registered) and of the audit event. A refused
 * message revokes nothing and is never answered with a LogoutResponse.
 */
export const SLO_REJECT_REASONS = [
  /** Not deflate/base64, not UTF-8, not well-formed, not a samlp:LogoutRequest/LogoutResponse, no ID or IssueInstant, a NameID we cannot read. */
  'malformed',
  /** The message (base64, or inflated) is larger than SAML_MAX_RESPONSE_BYTES. */
  'too_large',
  /** A DOCTYPE or ENTITY declaration. */
  'dtd_forbidden',
  /** Parameters of no binding: none or both of SAMLRequest/SAMLResponse, a repeated parameter, a LogoutResponse where a request was expected. */
  'wrong_binding',
  /** No signature: HTTP-Redirect without Signature/SigAlg, HTTP-POST without an enveloped signature. */
  'unsigned',
  /** The signature does not verify with a configured IdP certificate. */
  'bad_signature',
  /** SHA-1 or MD5 (SigAlg, SignatureMethod or DigestMethod). */
  'weak_algorithm',
  /** A SigAlg we do not verify (anything but rsa-sha256/384/512 and ecdsa-sha256/384/512). */
  'unsupported_algorithm',
  /** Issuer absent or not SAML_IDP_ISSUER. */
  'wrong_issuer',
  /** Destination absent or not our SLO URL (SAML_SLO_URL). */
  'wrong_destination',
  /** IssueInstant later than now + skew. */
  'not_yet_valid',
  /** IssueInstant older than SAML_REQUEST_TTL_SECONDS + skew, or NotOnOrAfter passed. */
  'expired',
  /** This LogoutRequest id was acted on before. */
  'replay',
  /** A LogoutResponse whose InResponseTo names no outstanding logout request of ours (unknown, used or expired). */
  'unknown_in_response_to',
  /** The NameID is empty or holds characters no identifier carries (identity.ts). */
  'invalid_name_id',
] as const;

export type SloRejectReason = (typeof SLO_REJECT_REASONS)[number];

export class SloRejection extends Error {
  readonly code = 'SAML_LOGOUT_REJECTED';
  constructor(readonly reason: SloRejectReason, readonly detail: string) {
    super(`SAML logout message rejected: ${reason}`);
    this.name = 'SloRejection';
  }
}

export function refuseSlo(reason: SloRejectReason, detail: string): never {
  throw new SloRejection(reason, detail.slice(0, 300));
}

/** Runs a check written for responses (it throws SamlRejection) and re-throws its refusal as a logout refusal. */
export function asSlo<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof SamlRejection)) throw err;
    const reason: SloRejectReason = (SLO_REJECT_REASONS as readonly string[]).includes(err.reason)
      ? (err.reason as SloRejectReason)
      : err.reason === 'missing_subject' ? 'invalid_name_id' : 'malformed';
    return refuseSlo(reason, err.detail);
  }
}
