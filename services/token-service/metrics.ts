import { Counter, Histogram, type Registry } from 'prom-client';
import { SAML_REJECT_REASONS } from './saml/reasons.js';
import { SLO_REJECT_REASONS } from './saml/slo-reasons.js';
import { LATENCY_BUCKETS, closedCounter } from '../shared/metrics.js';
import { RENEWAL_RESULTS } from './sessions/renew.js';
import { SESSION_END_REASONS } from './store/sessions.js';

export const REDEEM_REFUSALS = ['source_not_allowed', 'rate_limited', 'bad_request', 'return_url_not_allowed', 'database_unavailable', 'too_many_pending_logins', 'not_a_navigation', 'unknown_idp', 'idp_unavailable'] as const;
export const REVOCATION_SOURCES = ['logout', 'cli'] as const;
export const SLO_DIRECTIONS = ['idp_initiated', 'sp_initiated'] as const;
/**
 * `started`: our LogoutRequest sent to the IdP (sp_initiated); `completed`: sessions ended and Success
 * answered (idp_initiated) or the IdP's Success received (sp_initiated); `no_session`: a valid
 * LogoutRequest naming no live session (answered Success); `partial`: the IdP's LogoutResponse is not
 * Success; `refused`: the message failed a check (reason in saml_slo_refused_total); `unavailable`: Postgres failed.
 */
export const SLO_RESULTS = ['started', 'completed', 'no_session', 'partial', 'refused', 'unavailable'] as const;

/** The `idp` label of a refusal before any configured IdP was found (malformed, unknown Issuer). */
export const NO_IDP = 'none';
export const SIGN_IN_RESULTS = ['issued', 'refused'] as const;

/** The token-service's own metrics; every label value is from a closed list and pre-registered. */
export function tokenMetrics(registry: Registry) {
  const issued = new Counter({ name: 'token_issued_total', help: 'JWTs issued', registers: [registry] });
  const samlRejected = closedCounter(registry, 'saml_rejected_total', 'SAML responses refused, by reason', 'reason', SAML_REJECT_REASONS);
  const redeemRefused = closedCounter(registry, 'token_redeem_refused_total', 'Redemption attempts refused before SAML validation, by reason', 'reason', REDEEM_REFUSALS);
  const revocations = closedCounter(registry, 'token_revocations_total', 'Tokens revoked, by source', 'source', REVOCATION_SOURCES);
  const slo = new Counter({ name: 'saml_slo_total', help: 'SAML Single Logout messages, by direction and result', labelNames: ['direction', 'result'] as const, registers: [registry] });
  for (const direction of SLO_DIRECTIONS) for (const result of SLO_RESULTS) slo.inc({ direction, result }, 0);
  const sloRefused = closedCounter(registry, 'saml_slo_refused_total', 'SAML logout messages refused, by reason', 'reason', SLO_REJECT_REASONS);
  const signing = new Histogram({
    name: 'token_signing_duration_seconds',
    help: 'Time to sign one JWT',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const samlValidation = new Histogram({
    name: 'saml_validation_duration_seconds',
    help: 'Time to validate one SAML response (parsing, signatures, checks)',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const sessionsStarted = new Counter({ name: 'sessions_started_total', help: 'Sessions started at a sign-in', registers: [registry] });
  const sessionRenewals = closedCounter(registry, 'session_renewals_total', 'Session renewals at /saml/login with a session cookie, by result', 'result', RENEWAL_RESULTS);
  const sessionsEnded = closedCounter(registry, 'sessions_ended_total', 'Sessions ended by this service, by reason', 'reason', SESSION_END_REASONS);
  // Labelled by the configured IdP's short name (bounded: configured IdPs and `none`); pre-registered by `knowIdps`.
  const signIns = new Counter({ name: 'saml_sign_ins_total', help: 'SAML responses by configured IdP and result (issued a token, or refused)', labelNames: ['idp', 'result'] as const, registers: [registry] });
  const knowIdps = (names: readonly string[]) => {
    for (const idp of [...names, NO_IDP]) for (const result of SIGN_IN_RESULTS) signIns.inc({ idp, result }, 0);
  };
  return { issued, signIns, knowIdps, samlRejected, redeemRefused, revocations, slo, sloRefused, signing, samlValidation, sessionsStarted, sessionRenewals, sessionsEnded };
}

export type TokenMetrics = ReturnType<typeof tokenMetrics>;
