import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db/schema.js';
import { lockSessionBySecret, markEnded, revokeTokensOfSessions, touchSession, type SessionRow } from '../store/sessions.js';
import { insertToken } from '../store/tokens.js';
import type { IssuedToken, TokenClaims } from '../tokens/issuer.js';

/** `session_renewals_total{result}`: a closed list, pre-registered. */
export const RENEWAL_RESULTS = ['renewed', 'unknown', 'ended', 'idle', 'expired', 'ambiguous', 'malformed', 'database_unavailable', 'idp_removed'] as const;
export type RenewalResult = (typeof RENEWAL_RESULTS)[number];

/**
 * At a renewal, the session's earlier tokens are revoked, except those issued in the last
 * RENEWAL_OVERLAP_SECONDS: two tabs renewing at once each keep the token they were given, while an
 * old token replayed after a renewal (it is usually expired anyway) is refused everywhere.
 */
export const RENEWAL_OVERLAP_SECONDS = 10;

/** A session with less than this left is treated as over: a token must outlive its own issue second. */
const MIN_REMAINING_MS = 5000;

export type Renewal =
  | { result: 'renewed'; issued: IssuedToken; session: SessionRow }
  | { result: 'unknown' }
  /** The session had ended before (sign-out, revocation, IdP logout, or an idle or absolute end already seen). */
  | { result: 'ended'; session: SessionRow }
  /** The session ends now: idle timeout or absolute expiry reached, or its IdP is no longer configured. */
  | { result: 'idle' | 'expired' | 'idp_removed'; session: SessionRow };

export interface RenewOptions {
  now: Date;
  idleTimeoutSeconds: number;
  clientAddress: string | null;
  issue: (claims: TokenClaims) => IssuedToken;
  /** Whether the IdP (entity id) the session signed in at is still configured; a session of a removed IdP is ended. */
  idpConfigured: (entityId: string) => boolean;
}

/**
 * Renews the session a renewal secret names, in one transaction holding the session's row lock (so two
 * tabs renewing at once are served one after the other, each with a valid token): a live session gets a
 * new token (row written with its sid), its idle deadline moves forward and its older tokens are revoked;
 * an idle or expired one, or one whose IdP was removed from the configuration, is ended now (its tokens
 * revoked); an ended or unknown one is never renewed.
 */
export async function renewSession(db: Kysely<Database>, secretHash: Buffer, opts: RenewOptions): Promise<Renewal> {
  return db.transaction().execute(async (trx): Promise<Renewal> => {
    const session = await lockSessionBySecret(trx, secretHash);
    if (session === undefined) return { result: 'unknown' };
    if (session.ended_at !== null) return { result: 'ended', session };
    const now = opts.now;
    if (session.idle_expires_at.getTime() <= now.getTime()) {
      await markEnded(trx, session.sid, 'idle', now);
      return { result: 'idle', session };
    }
    if (session.expires_at.getTime() - now.getTime() < MIN_REMAINING_MS) {
      await markEnded(trx, session.sid, 'expired', now);
      return { result: 'expired', session };
    }
    if (!opts.idpConfigured(session.idp_issuer)) {
      await markEnded(trx, session.sid, 'idp_removed', now);
      return { result: 'idp_removed', session };
    }
    const issued = opts.issue({ subject: session.subject, email: session.email, groups: session.groups, sid: session.sid, idp: session.idp_issuer, notAfter: session.expires_at });
    await revokeTokensOfSessions(trx, [session.sid], 'renewed', { issuedBefore: new Date(now.getTime() - RENEWAL_OVERLAP_SECONDS * 1000) });
    await insertToken(trx, {
      jti: issued.jti,
      subject: session.subject,
      email: session.email,
      groups: session.groups,
      idpIssuer: session.idp_issuer,
      sessionIndex: session.session_index,
      clientAddress: opts.clientAddress,
      issuedAt: issued.issuedAt,
      expiresAt: issued.expiresAt,
      sid: session.sid,
    });
    await touchSession(trx, session.sid, now, new Date(now.getTime() + opts.idleTimeoutSeconds * 1000));
    return { result: 'renewed', issued, session };
  });
}

/** Whether a session ended on time (idle or absolute), as opposed to by someone's action. */
export function endedOnTime(session: SessionRow): boolean {
  return session.end_reason === 'idle' || session.end_reason === 'expired';
}
