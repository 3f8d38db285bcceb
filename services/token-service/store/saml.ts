import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../shared/db/schema.js';

type Conn = Kysely<Database> | Transaction<Database>;

/** Remembers an SP-initiated AuthnRequest id so any replica can finish the login. */
export async function saveRequestId(db: Conn, requestId: string, expiresAt: Date): Promise<void> {
  await db.insertInto('saml_requests').values({ request_id: requestId, expires_at: expiresAt }).execute();
}

/** Single use: true when an outstanding, unexpired request id existed (and is now spent). */
export async function consumeRequestId(db: Conn, requestId: string): Promise<boolean> {
  const row = await db
    .deleteFrom('saml_requests')
    .where('request_id', '=', requestId)
    .where('expires_at', '>', new Date())
    .returning('request_id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Records a redeemed assertion id; false when it was redeemed before. Concurrent submissions of the
 * same response serialise on the primary key: exactly one insert wins.
 */
export async function recordAssertion(db: Conn, row: { assertionId: string; idpIssuer: string; jti: string; expiresAt: Date }): Promise<boolean> {
  const inserted = await db
    .insertInto('saml_assertions')
    .values({ assertion_id: row.assertionId, idp_issuer: row.idpIssuer, jti: row.jti, expires_at: row.expiresAt })
    .onConflict((oc) => oc.doNothing())
    .returning('assertion_id')
    .executeTakeFirst();
  return inserted !== undefined;
}
