import { Counter, Histogram, type Registry } from 'prom-client';
import { SAML_REJECT_REASONS } from './saml/reasons.js';
import { LATENCY_BUCKETS } from '../shared/metrics.js';

export const REDEEM_REFUSALS = ['source_not_allowed', 'rate_limited', 'bad_request', 'return_url_not_allowed', 'database_unavailable'] as const;
export const REVOCATION_SOURCES = ['logout', 'cli'] as const;

/** The token-service's own metrics; every label value is from a closed list and pre-registered. */
export function tokenMetrics(registry: Registry) {
  const issued = new Counter({ name: 'token_issued_total', help: 'JWTs issued', registers: [registry] });
  const samlRejected = new Counter({
    name: 'saml_rejected_total',
    help: 'SAML responses refused, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of SAML_REJECT_REASONS) samlRejected.inc({ reason }, 0);
  const redeemRefused = new Counter({
    name: 'token_redeem_refused_total',
    help: 'Redemption attempts refused before SAML validation, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of REDEEM_REFUSALS) redeemRefused.inc({ reason }, 0);
  const revocations = new Counter({
    name: 'token_revocations_total',
    help: 'Tokens revoked, by source',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  for (const source of REVOCATION_SOURCES) revocations.inc({ source }, 0);
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
  return { issued, samlRejected, redeemRefused, revocations, signing, samlValidation };
}

export type TokenMetrics = ReturnType<typeof tokenMetrics>;
