import { sql, type Kysely, type Transaction } from 'kysely';
import type { Conn, Database, SessionRow } from '../../shared/db/schema.js';

/** Why a session ended: a closed list (audit field, metric label `sessions_ended_total{reason}`). */
export const SESSION_END_REASONS = ['sign_out', 'idle', 'expired', 'revoked', 'idp_logout', 'idp_removed'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

export type { SessionRow };

export interface NewSession {
  sid: string;
  /** The renewal secret's hash; null for a session that cannot be renewed (a program's, given JSON). */
  secretHash: Buffer | null;
  subject: string;
  email: string | null;
  groups: string[];
  idpIssuer: string;
  sessionIndex: string | null;
  nameIdFormat: string | null;
  clientAddress: string | null;
  createdAt: Date;
  idleExpiresAt: Date;
  /** min(sign-in + SESSION_MAX_LIFETIME_SECONDS, the IdP's SessionNotOnOrAfter). */
  expiresAt: Date;
}

/** Runs `fn` in a transaction, or in the caller's when `db` already is one. */
function inTransaction<T>(db: Conn, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db as Transaction<Database>) : (db as Kysely<Database>).transaction().execute(fn);
}

export async function insertSession(db: Conn, row: NewSession): Promise<void> {
  await db
    .insertInto('sessions')
    .values({
      sid: row.sid,
      secret_hash: row.secretHash,
      subject: row.subject,
      email: row.email,
      groups: row.groups,
      idp_issuer: row.idpIssuer,
      session_index: row.sessionIndex,
      name_id_format: row.nameIdFormat,
      client_address: row.clientAddress,
      created_at: row.createdAt,
      last_seen_at: row.createdAt,
      idle_expires_at: row.idleExpiresAt,
      expires_at: row.expiresAt,
    })
    .execute();
}

/** Revokes every live token of these sessions (the NOTIFY trigger tells every authz replica); their ids. */
export async function revokeTokensOfSessions(db: Conn, sids: string[], reason: string, opts: { issuedBefore?: Date } = {}): Promise<string[]> {
  if (sids.length === 0) return [];
  const now = new Date();
  let q = db
    .updateTable('issued_tokens')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('sid', 'in', sids)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now);
  if (opts.issuedBefore !== undefined) q = q.where('issued_at', '<', opts.issuedBefore);
  const rows = await q.returning('jti').execute();
  return rows.map((r) => r.jti);
}

/**
 * Ends the live sessions of one NameID at one IdP — only the one with this SessionIndex when given, all
 * of them when it is null or undefined — and, in the same transaction, revokes their live tokens (and the
 * subject's live tokens from before sessions existed that match the same IdP and SessionIndex). Returns
 * the ended sids (none when nothing was live: a second logout changes nothing).
 */
export async function endSessionsOf(
  db: Conn,
  who: { idpIssuer: string; subject: string; sessionIndex?: string | null },
  reason: string,
): Promise<string[]> {
  return inTransaction(db, async (trx) => {
    const now = new Date();
    let q = trx
      .updateTable('sessions')
      .set({ ended_at: now, end_reason: reason })
      .where('idp_issuer', '=', who.idpIssuer)
      .where('subject', '=', who.subject)
      .where('ended_at', 'is', null);
    if (who.sessionIndex !== null && who.sessionIndex !== undefined) q = q.where('session_index', '=', who.sessionIndex);
    const sids = (await q.returning('sid').execute()).map((r) => r.sid);
    await revokeTokensOfSessions(trx, sids, reason);
    let legacy = trx
      .updateTable('issued_tokens')
      .set({ revoked_at: now, revoked_reason: reason })
      .where('sid', 'is', null)
      .where('idp_issuer', '=', who.idpIssuer)
      .where('subject', '=', who.subject)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now);
    if (who.sessionIndex !== null && who.sessionIndex !== undefined) legacy = legacy.where('session_index', '=', who.sessionIndex);
    await legacy.execute();
    return sids;
  });
}

/** Ends one live session and revokes its live tokens; false when it was unknown or already over. */
export async function endSession(db: Conn, sid: string, reason: string): Promise<boolean> {
  return (await endSessionWithTokens(db, sid, reason)).ended;
}

/**
 * endSession, also returning the ids of the tokens it revoked (for audit events); `tokenReason` is what
 * the token rows record (default: the session's reason).
 */
export async function endSessionWithTokens(db: Conn, sid: string, reason: string, tokenReason: string = reason): Promise<{ ended: boolean; jtis: string[] }> {
  return inTransaction(db, async (trx) => {
    const ended = await trx
      .updateTable('sessions')
      .set({ ended_at: new Date(), end_reason: reason })
      .where('sid', '=', sid)
      .where('ended_at', 'is', null)
      .returning('sid')
      .executeTakeFirst();
    if (ended === undefined) return { ended: false, jtis: [] };
    return { ended: true, jtis: await revokeTokensOfSessions(trx, [sid], tokenReason) };
  });
}

/** The session a renewal secret names (not locked), live or not. */
export async function findSessionBySecret(db: Conn, secretHash: Buffer): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
}

/** Offboarding (`revoke --subject`): ends every live session of a subject, at any IdP; their sids. */
export async function endSessionsOfSubject(db: Conn, subject: string, reason: string, tokenReason: string = reason): Promise<string[]> {
  return endEverySession(db, { subject }, reason, tokenReason);
}

/** Ends every live session of a subject (at every IdP), or of everyone signed in at one IdP, and revokes their tokens. */
export async function endEverySession(db: Conn, who: { subject: string } | { idpIssuer: string }, reason: string, tokenReason: string = reason): Promise<string[]> {
  const [column, value] = 'subject' in who ? (['subject', who.subject] as const) : (['idp_issuer', who.idpIssuer] as const);
  return inTransaction(db, async (trx) => {
    const sids = (
      await trx.updateTable('sessions').set({ ended_at: new Date(), end_reason: reason }).where(column, '=', value).where('ended_at', 'is', null).returning('sid').execute()
    ).map((r) => r.sid);
    await revokeTokensOfSessions(trx, sids, tokenReason);
    return sids;
  });
}

/** The session a renewal secret names, locked for the rest of the transaction (two tabs serialise). */
export async function lockSessionBySecret(trx: Transaction<Database>, secretHash: Buffer): Promise<SessionRow | undefined> {
  return trx.selectFrom('sessions').selectAll().where('secret_hash', '=', secretHash).forUpdate().executeTakeFirst();
}

/** Marks a locked, live session as ended (idle or expired, found at renewal) and revokes its tokens. */
export async function markEnded(trx: Transaction<Database>, sid: string, reason: SessionEndReason, at: Date): Promise<void> {
  await trx.updateTable('sessions').set({ ended_at: at, end_reason: reason }).where('sid', '=', sid).where('ended_at', 'is', null).execute();
  await revokeTokensOfSessions(trx, [sid], reason);
}

/** Records activity seen at a renewal: the idle deadline moves forward. */
export async function touchSession(trx: Transaction<Database>, sid: string, at: Date, idleExpiresAt: Date): Promise<void> {
  await trx.updateTable('sessions').set({ last_seen_at: at, idle_expires_at: idleExpiresAt }).where('sid', '=', sid).execute();
}

/** A session by id (live or not), for pages and `userinfo`. */
export async function findSession(db: Conn, sid: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('sid', '=', sid).executeTakeFirst();
}

/**
 * Deletes session rows past their absolute expiry plus `graceSeconds`. An ended session is kept until
 * then, so that a browser returning with its cookie after an idle end is still recognised (ForceAuthn).
 */
export async function sweepSessions(db: Conn, graceSeconds: number): Promise<number> {
  const res = await db.deleteFrom('sessions').where('expires_at', '<', new Date(Date.now() - graceSeconds * 1000)).executeTakeFirst();
  return Number(res.numDeletedRows);
}

/**
 * A token's row while it is live (not revoked, not expired) and, when it belongs to one, its session,
 * which must be live too; undefined otherwise. For `userinfo` and the forbidden page, never for `/auth`.
 */
export async function liveTokenSession(db: Conn, jti: string): Promise<{ session: SessionRow | null } | undefined> {
  const now = new Date();
  const token = await db
    .selectFrom('issued_tokens')
    .select(['sid'])
    .where('jti', '=', jti)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (token === undefined) return undefined;
  if (token.sid === null) return { session: null };
  const session = await findSession(db, token.sid);
  if (session === undefined || session.ended_at !== null || session.expires_at <= now) return undefined;
  return { session };
}

/**
 * Ends the live sessions whose idle deadline or absolute end has passed (the browser never came back to
 * be told), at that deadline, with reason `idle` or `expired`, and revokes any token of theirs still live.
 * Each row is ended once, whichever replica's sweep gets there first; returns what it ended.
 */
export async function endLapsedSessions(db: Kysely<Database>, now: Date = new Date()): Promise<{ sid: string; subject: string; reason: 'idle' | 'expired' }[]> {
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .updateTable('sessions')
      .set((eb) => ({
        ended_at: sql<Date>`least(${eb.ref('idle_expires_at')}, ${eb.ref('expires_at')})`,
        end_reason: sql<string>`case when ${eb.ref('idle_expires_at')} < ${eb.ref('expires_at')} then 'idle' else 'expired' end`,
      }))
      .where('ended_at', 'is', null)
      .where((eb) => eb.or([eb('idle_expires_at', '<=', now), eb('expires_at', '<=', now)]))
      .returning(['sid', 'subject', 'end_reason'])
      .execute();
    for (const reason of ['idle', 'expired'] as const) {
      await revokeTokensOfSessions(trx, rows.filter((r) => r.end_reason === reason).map((r) => r.sid), reason);
    }
    return rows.map((r) => ({ sid: r.sid, subject: r.subject, reason: r.end_reason === 'idle' ? 'idle' : 'expired' }));
  });
}
