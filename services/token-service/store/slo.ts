import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../shared/db/schema.js';

type Conn = Kysely<Database> | Transaction<Database>;

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
export async function savePendingLogout(db: Conn, row: { requestId: string; returnUrl: string | null; expiresAt: Date }): Promise<void> {
  await db.insertInto('saml_logout_pending').values({ request_id: row.requestId, return_url: row.returnUrl, expires_at: row.expiresAt }).execute();
}

/** Single use: the pending logout (its return URL) when it was outstanding and unexpired; now spent. */
export async function consumePendingLogout(db: Conn, requestId: string): Promise<{ returnUrl: string | null } | undefined> {
  const row = await db
    .deleteFrom('saml_logout_pending')
    .where('request_id', '=', requestId)
    .where('expires_at', '>', new Date())
    .returning('return_url')
    .executeTakeFirst();
  return row === undefined ? undefined : { returnUrl: row.return_url };
}

/**
 * IdP-initiated logout's revocation: every live token of this NameID from this IdP, of the named
 * sessions (SessionIndex) or of all its sessions when none is named. The trigger of migration 0001
 * notifies every authz replica. Returns the revoked token ids.
 */
export async function revokeForLogout(
  db: Conn,
  who: { idpIssuer: string; subject: string; sessionIndexes: readonly string[] },
  reason: string,
): Promise<string[]> {
  let q = db
    .updateTable('issued_tokens')
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where('idp_issuer', '=', who.idpIssuer)
    .where('subject', '=', who.subject)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', new Date());
  if (who.sessionIndexes.length > 0) q = q.where('session_index', 'in', [...who.sessionIndexes]);
  const rows = await q.returning('jti').execute();
  return rows.map((r) => r.jti);
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
