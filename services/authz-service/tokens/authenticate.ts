import type { VerifiedClaims, VerifyResult } from '../../shared/jwt-verify.js';
import type { TokenReason } from '../reasons.js';
import type { KeySource } from './key-source.js';
import type { LivenessCache } from './liveness.js';

/**
 * Who presented this token, if anyone: verified (signature, issuer, audience, lifetime: key-source.ts)
 * and live (its row exists, unrevoked, unexpired, same subject: liveness.ts). `jti` is known once the
 * token verified, also when liveness says no (the audit event names it).
 */
export type Authentication =
  | { ok: true; claims: VerifiedClaims }
  | { ok: false; reason: TokenReason; jti: string | null };

const NO_TOKEN: Authentication = { ok: false, reason: 'no_token', jti: null };

/**
 * Verify, then liveness. Synchronous when both answers are cached (the steady state: no promise); a promise when either must wait (a JWKS refresh for an unknown kid, a liveness lookup).
 */
export function authenticate(keys: KeySource, liveness: LivenessCache, token: string | undefined): Authentication | Promise<Authentication> {
  if (token === undefined) return NO_TOKEN;
  const verified = keys.verify(token);
  if (verified instanceof Promise) return verified.then((v) => (v.ok ? checkLive(liveness, v) : { ok: false, reason: v.reason, jti: null }));
  if (!verified.ok) return { ok: false, reason: verified.reason, jti: null };
  return checkLive(liveness, verified);
}

/** A live token's answer is the verifier's own (cached) result object: nothing is allocated per request. */
function checkLive(liveness: LivenessCache, verified: VerifyResult & { ok: true }): Authentication | Promise<Authentication> {
  const claims = verified.claims;
  const live = liveness.check(claims.jti, claims.subject);
  if (live instanceof Promise) return live.then((l) => (l.live ? verified : { ok: false, reason: l.reason, jti: claims.jti }));
  return live.live ? verified : { ok: false, reason: live.reason, jti: claims.jti };
}
