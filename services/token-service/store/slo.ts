import type { Kysely, Transaction } from 'kysely';
import type { Conn, Database } from '../../shared/db/schema.js';
import { endSessionsOf } from './sessions.js';


/** Records an IdP LogoutRequest id; false when it was acted on before (concurrent copies: one wins). */
export async function recordLogoutRequest(db: Conn, row: { idpIssuer: string; requestId: string; expiresAt: Date }): Promise<boolean> {
  const inserted = await db
    .insertInto('saml_logout_seen')
    .values({ idp_issuer: row.idpIssuer, request_id: row.requestId, expires_at: row.expiresAt })
    .onConflict((oc) => oc.doNothing())
    .returning('request_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Remembers our LogoutRequest id (and where the browser goes afterwards) so any replica can finish the logout. */
export async function savePendingLogout(db: Conn, row: { requestId: string; returnUrl: string | null; expiresAt: Date; idpIssuer: string }): Promise<void> {
  await db.insertInto('saml_logout_pending')
    .values({ request_id: row.requestId, return_url: row.returnUrl, expires_at: row.expiresAt, idp_issuer: row.idpIssuer })
    .execute();
}

/**
 * Single use: the pending logout (its return URL) when it was outstanding, unexpired and sent to this
 * IdP (or written before pending logouts named their IdP); now spent.
 */
export async function consumePendingLogout(db: Conn, requestId: string, idpIssuer: string): Promise<{ returnUrl: string | null } | undefined> {
  const row = await db
    .deleteFrom('saml_logout_pending')
    .where('request_id', '=', requestId)
    .where('expires_at', '>', new Date())
    .where((eb) => eb.or([eb('idp_issuer', '=', idpIssuer), eb('idp_issuer', 'is', null)]))
    .returning('return_url')
    .executeTakeFirst();
  return row === undefined ? undefined : { returnUrl: row.return_url };
}

/**
 * IdP-initiated logout: ends the live sessions of this NameID at this IdP — those with the named
 * SessionIndexes, or all of them when none is named — and revokes their tokens (sessions.ts
 * `endSessionsOf`; the NOTIFY trigger reaches every authz replica). Returns the ended session ids.
 */
export async function endSessionsForLogout(
  db: Transaction<Database>,
  who: { idpIssuer: string; subject: string; sessionIndexes: readonly string[] },
): Promise<string[]> {
  if (who.sessionIndexes.length === 0) return endSessionsOf(db, { idpIssuer: who.idpIssuer, subject: who.subject }, 'idp_logout');
  const ended: string[] = [];
  for (const sessionIndex of new Set(who.sessionIndexes)) {
    ended.push(...(await endSessionsOf(db, { idpIssuer: who.idpIssuer, subject: who.subject, sessionIndex }, 'idp_logout')));
  }
  return ended;
}

/** Deletes expired logout ids (run with the token sweep). */
export async function sweepLogoutIds(db: Kysely<Database>): Promise<{ logoutSeen: number; logoutPending: number }> {
  const now = new Date();
  const [seen, pending] = await Promise.all([
    db.deleteFrom('saml_logout_seen').where('expires_at', '<', now).executeTakeFirst(),
    db.deleteFrom('saml_logout_pending').where('expires_at', '<', now).executeTakeFirst(),
  ]);
  return { logoutSeen: Number(seen.numDeletedRows), logoutPending: Number(pending.numDeletedRows) };
}
