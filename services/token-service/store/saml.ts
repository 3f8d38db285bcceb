import { sql, type Kysely } from 'kysely';
import type { Conn, Database } from '../../shared/db/schema.js';


/** What binds a login to the browser and the network that started it (both optional for old callers). */
export interface RequestBinding {
  /** SHA-256 of the nonce in the starting browser's login-state cookie. */
  stateHash: Buffer;
  /** IPv4 address or IPv6 /64 of the client that started the login. */
  clientNetwork: string;
}

/** Remembers an SP-initiated AuthnRequest id so any replica can finish the login. */
export async function saveRequestId(db: Conn, requestId: string, expiresAt: Date, binding?: RequestBinding, idpIssuer?: string): Promise<void> {
  await db
    .insertInto('saml_requests')
    .values({
      request_id: requestId,
      expires_at: expiresAt,
      ...(idpIssuer !== undefined ? { idp_issuer: idpIssuer } : {}),
      ...(binding ? { state_hash: binding.stateHash, client_network: binding.clientNetwork } : {}),
    })
    .execute();
}

/**
 * Saves the request id unless the network already holds `max` unused, unexpired ones: false then, and
 * nothing written. Logins from one network are serialised (a transaction-scoped advisory lock, fine
 * behind a transaction-mode pooler), so a burst cannot overshoot the bound.
 */
export async function saveRequestIdBounded(
  db: Kysely<Database>,
  row: { requestId: string; expiresAt: Date; binding: RequestBinding; max: number; idpIssuer: string },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`saml_requests:${row.binding.clientNetwork}`}, 0))`.execute(trx);
    const { n } = await trx
      .selectFrom('saml_requests')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('client_network', '=', row.binding.clientNetwork)
      .where('expires_at', '>', new Date())
      .executeTakeFirstOrThrow();
    if (Number(n) >= row.max) return false;
    await saveRequestId(trx, row.requestId, row.expiresAt, row.binding, row.idpIssuer);
    return true;
  });
}

/** An unused, unexpired request (whoever started it, whichever IdP it was sent to), or undefined. */
export async function outstandingRequest(db: Conn, requestId: string): Promise<{ idpIssuer: string | null } | undefined> {
  const row = await db
    .selectFrom('saml_requests')
    .select('idp_issuer')
    .where('request_id', '=', requestId)
    .where('expires_at', '>', new Date())
    .executeTakeFirst();
  return row === undefined ? undefined : { idpIssuer: row.idp_issuer };
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
