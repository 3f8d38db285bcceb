/**
 * Why `/auth` answered as it did: one closed catalogue for the authz-service (as saml/reasons.ts is
 * for the token-service). Every value is a `reason` label of `authz_decisions_total`, pre-registered
 * at 0, and the value of `X-Auth-Request-Reason` on a refusal. Each group is owned by the module that
 * produces it; this file only gathers them, so a new refusal code that is not listed here fails the
 * type check of `DecisionCounts.add`.
 */
import { TOKEN_REFUSALS } from '../shared/jwt-verify.js';
import type { DecisionReason } from './policy/types.js';
import type { FrontEndRefusal } from './request/front-end.js';
import type { PathRefusal } from './request/path.js';
import type { LivenessRefusal } from './tokens/liveness.js';

export const FRONT_END_REASONS = ['missing_original_request', 'ambiguous_header', 'bad_method', 'bad_host', 'bad_url', 'conflicting_front_end_headers', 'method_override'] as const satisfies readonly FrontEndRefusal[];
export const PATH_REASONS = [
  'too_long', 'not_absolute', 'fragment', 'invalid_character', 'control_character', 'backslash', 'path_parameter',
  'bad_percent_encoding', 'encoded_slash', 'invalid_utf8', 'double_encoding', 'encoded_dot_segment', 'dot_segment', 'repeated_slash',
] as const satisfies readonly PathRefusal[];
export const POLICY_REASONS = ['allow_rule', 'public_rule', 'explicit_deny', 'no_matching_rule', 'authentication_required'] as const satisfies readonly DecisionReason[];
export const LIVENESS_REASONS = ['unknown_token', 'revoked', 'expired', 'subject_mismatch', 'liveness_unavailable'] as const satisfies readonly LivenessRefusal[];
/** No token presented; two session cookies (cookie tossing). */
export const REQUEST_REASONS = ['no_token', 'ambiguous_cookie'] as const;

export const DECISION_REASONS = [...new Set([...FRONT_END_REASONS, ...PATH_REASONS, ...POLICY_REASONS, ...TOKEN_REFUSALS, ...LIVENESS_REASONS, ...REQUEST_REASONS])] as readonly AuthzReason[];
export type AuthzReason =
  | (typeof FRONT_END_REASONS)[number]
  | (typeof PATH_REASONS)[number]
  | (typeof POLICY_REASONS)[number]
  | (typeof TOKEN_REFUSALS)[number]
  | (typeof LIVENESS_REASONS)[number]
  | (typeof REQUEST_REASONS)[number];

/** Why a presented (or absent) token does not authenticate: the 401's reason. */
export type TokenReason = (typeof TOKEN_REFUSALS)[number] | LivenessRefusal | 'no_token';

export const OUTCOMES = ['allow', 'deny', 'unauthenticated', 'bad_request'] as const;
export type MetricOutcome = (typeof OUTCOMES)[number];

/** The reasons each outcome can carry (the series of `authz_decisions_total`, all pre-registered). */
export const OUTCOME_REASONS: { readonly [O in MetricOutcome]: readonly ReasonOf<O>[] } = {
  allow: ['allow_rule', 'public_rule'],
  deny: ['explicit_deny', 'no_matching_rule'],
  // `expired` is both a token refusal (exp passed) and a liveness one (the row's expiry): one series.
  unauthenticated: [...new Set<TokenReason>([...TOKEN_REFUSALS, ...LIVENESS_REASONS, 'no_token'])],
  bad_request: [...FRONT_END_REASONS, ...PATH_REASONS, 'ambiguous_cookie'],
};
export type ReasonOf<O extends MetricOutcome> = {
  allow: 'allow_rule' | 'public_rule';
  deny: 'explicit_deny' | 'no_matching_rule';
  unauthenticated: TokenReason;
  bad_request: (typeof FRONT_END_REASONS)[number] | (typeof PATH_REASONS)[number] | 'ambiguous_cookie';
}[O];

/** Series of `authz_decisions_total`, in slot order. */
export const DECISION_SERIES: readonly { outcome: string; reason: string }[] = OUTCOMES.flatMap((outcome) => (OUTCOME_REASONS[outcome] as readonly string[]).map((reason) => ({ outcome, reason })));
const SLOTS: Record<MetricOutcome, Record<string, number>> = { allow: {}, deny: {}, unauthenticated: {}, bad_request: {} };
DECISION_SERIES.forEach(({ outcome, reason }, i) => {
  if (SLOTS[outcome as MetricOutcome][reason] !== undefined) throw new Error(`reasons.ts lists ${outcome}/${reason} twice`);
  SLOTS[outcome as MetricOutcome][reason] = i;
});

/** The counter slot of (outcome, reason); a reason outside the outcome's list is a programming error. */
export function decisionSlot<O extends MetricOutcome>(outcome: O, reason: ReasonOf<O>): number {
  const slot = SLOTS[outcome][reason];
  if (slot === undefined) throw new Error(`reason ${reason} is not in the catalogue for outcome ${outcome}`);
  return slot;
}

type Exhaustive<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : false;
// Every code a producer can return is in the catalogue (a new one fails here until it is listed).
true satisfies Exhaustive<FrontEndRefusal, (typeof FRONT_END_REASONS)[number]>;
true satisfies Exhaustive<PathRefusal, (typeof PATH_REASONS)[number]>;
true satisfies Exhaustive<DecisionReason, (typeof POLICY_REASONS)[number]>;
true satisfies Exhaustive<LivenessRefusal, (typeof LIVENESS_REASONS)[number]>;
