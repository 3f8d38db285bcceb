import { sql, type Kysely } from 'kysely';
import type { Conn, Database } from '../../shared/db/schema.js';
import { sweepSessions } from './sessions.js';


export interface TokenRow {
  jti: string;
  subject: string;
  email: string | null;
  groups: string[];
  idpIssuer: string;
  sessionIndex: string | null;
  clientAddress: string | null;
  issuedAt: Date;
  expiresAt: Date;
  /** The session the token belongs to (absent: none). */
  sid?: string | null;
}

export async function insertToken(db: Conn, row: TokenRow): Promise<void> {
  await db
    .insertInto('issued_tokens')
    .values({
      jti: row.jti,
      subject: row.subject,
      email: row.email,
      groups: row.groups,
      idp_issuer: row.idpIssuer,
      session_index: row.sessionIndex,
      client_address: row.clientAddress,
      issued_at: row.issuedAt,
      expires_at: row.expiresAt,
      sid: row.sid ?? null,
    })
    .execute();
}

/** Revokes one live token; returns whether a live row changed (a second logout changes nothing). */
export async function revokeToken(db: Conn, jti: string, reason: string): Promise<boolean> {
  const res = await db
    .updateTable('issued_tokens')
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where('jti', '=', jti)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', new Date())
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

/** Offboarding: revokes every live token of one subject; returns their ids. */
export async function revokeSubject(db: Conn, subject: string, reason: string): Promise<string[]> {
  return revokeEveryLive(db, { subject }, reason);
}

/** Every live token of a subject (at every IdP), or of everyone signed in at one IdP (its entity id). */
export async function revokeEveryLive(db: Conn, who: { subject: string } | { idpIssuer: string }, reason: string): Promise<string[]> {
  const [column, value] = 'subject' in who ? (['subject', who.subject] as const) : (['idp_issuer', who.idpIssuer] as const);
  const rows = await db
    .updateTable('issued_tokens')
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where(column, '=', value)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', new Date())
    .returning('jti')
    .execute();
  return rows.map((r) => r.jti);
}

/**
 * Live subjects equal to `subject` but for case and surrounding XML whitespace, with their live
 * token counts: what `revoke --subject` suggests when nothing matched exactly (at most 10).
 */
export async function liveSubjectsLike(db: Conn, subject: string): Promise<{ subject: string; tokens: number }[]> {
  const rows = await db
    .selectFrom('issued_tokens')
    .select((eb) => ['subject', eb.fn.countAll<string>().as('n')])
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', new Date())
    .where(sql<boolean>`lower(btrim(subject, ${' \t\r\n'})) = lower(${subject})`)
    .groupBy('subject')
    .orderBy('subject')
    .limit(10)
    .execute();
  // Code-unit order, whatever the database collation.
  return rows.map((r) => ({ subject: r.subject, tokens: Number(r.n) })).sort((a, b) => (a.subject < b.subject ? -1 : 1));
}

/**
 * Deletes rows past their use: tokens and assertion ids past expiry (plus grace), spent request ids,
 * sessions past their absolute expiry (plus grace).
 */
export async function sweepExpired(db: Kysely<Database>, graceSeconds: number): Promise<{ tokens: number; assertions: number; requests: number; sessions: number }> {
  const cutoff = new Date(Date.now() - graceSeconds * 1000);
  const now = new Date();
  const [tokens, assertions, requests, sessions] = await Promise.all([
    db.deleteFrom('issued_tokens').where('expires_at', '<', cutoff).executeTakeFirst(),
    db.deleteFrom('saml_assertions').where('expires_at', '<', now).executeTakeFirst(),
    db.deleteFrom('saml_requests').where('expires_at', '<', now).executeTakeFirst(),
    sweepSessions(db, graceSeconds),
  ]);
  return {
    tokens: Number(tokens.numDeletedRows),
    assertions: Number(assertions.numDeletedRows),
    requests: Number(requests.numDeletedRows),
    sessions,
  };
}
