import { sql } from 'kysely';
import type { Conn } from '../../shared/db/schema.js';
import type { NewSession } from './sessions.js';
import type { TokenRow } from './tokens.js';

/** Everything a sign-in writes: the request it spends (none when IdP-initiated), the assertion id, the session, the token row. */
export interface SignIn {
  /** The InResponseTo request: spent only when unexpired, sent to `idpIssuer` (or to no IdP in particular) and, with `stateHash`, started by that browser. */
  request: { requestId: string; idpIssuer: string; stateHash?: Buffer } | null;
  assertion: { assertionId: string; idpIssuer: string; jti: string; expiresAt: Date };
  session: NewSession;
  token: TokenRow & { sid: string };
}

/**
 * A sign-in in one statement (one round trip, atomic by itself, fine behind a transaction-mode pooler):
 * the request row is locked, the assertion id recorded only if the request was found (or none is
 * needed), and the request spent, the session and the token row written only if the assertion id was
 * new. So it writes all or nothing: `consumed` false (no such outstanding request; see
 * `outstandingRequest` for why) or `recorded` false (a replay, the request left outstanding) means
 * nothing was written. The request is spent only when unexpired, sent to this IdP (or to none in
 * particular) and, with `stateHash`, started by this browser; the rest is what recordAssertion,
 * insertSession and insertToken do. Concurrent submissions serialise on the request row's lock and on
 * the assertion's primary key.
 */
export async function recordSignIn(db: Conn, s: SignIn, now: Date = new Date()): Promise<{ consumed: boolean; recorded: boolean }> {
  const { request: r, assertion: a, session: se, token: t } = s;
  const found = r === null ? sql`` : sql`req AS (
      SELECT request_id FROM saml_requests
      WHERE request_id = ${r.requestId} AND expires_at > ${now} AND (idp_issuer = ${r.idpIssuer} OR idp_issuer IS NULL)
        ${r.stateHash === undefined ? sql`` : sql`AND state_hash = ${r.stateHash}`}
      FOR UPDATE
    ),`;
  const { rows } = await sql<{ consumed: boolean; recorded: boolean }>`
    WITH ${found} a AS (
      INSERT INTO saml_assertions (assertion_id, idp_issuer, jti, expires_at)
      SELECT ${a.assertionId}::text, ${a.idpIssuer}::text, ${a.jti}::text, ${a.expiresAt}::timestamptz
      ${r === null ? sql`` : sql`WHERE EXISTS (SELECT 1 FROM req)`}
      ON CONFLICT DO NOTHING
      RETURNING 1
    ),
    ${r === null ? sql`` : sql`spent AS (DELETE FROM saml_requests WHERE request_id IN (SELECT request_id FROM req) AND EXISTS (SELECT 1 FROM a)),`}
    s AS (
      INSERT INTO sessions (sid, secret_hash, subject, email, groups, idp_issuer, session_index, name_id_format, client_address,
        created_at, last_seen_at, idle_expires_at, expires_at)
      SELECT ${se.sid}::text, ${se.secretHash}::bytea, ${se.subject}::text, ${se.email}::text, ${se.groups}::text[], ${se.idpIssuer}::text,
        ${se.sessionIndex}::text, ${se.nameIdFormat}::text, ${se.clientAddress}::text, ${se.createdAt}::timestamptz,
        ${se.createdAt}::timestamptz, ${se.idleExpiresAt}::timestamptz, ${se.expiresAt}::timestamptz
      WHERE EXISTS (SELECT 1 FROM a)
    ),
    t AS (
      INSERT INTO issued_tokens (jti, subject, email, groups, idp_issuer, session_index, client_address, issued_at, expires_at, sid)
      SELECT ${t.jti}::text, ${t.subject}::text, ${t.email}::text, ${t.groups}::text[], ${t.idpIssuer}::text, ${t.sessionIndex}::text,
        ${t.clientAddress}::text, ${t.issuedAt}::timestamptz, ${t.expiresAt}::timestamptz, ${t.sid}::text
      WHERE EXISTS (SELECT 1 FROM a)
    )
    SELECT ${r === null ? sql`true` : sql`EXISTS (SELECT 1 FROM req)`} AS consumed, EXISTS (SELECT 1 FROM a) AS recorded
  `.execute(db);
  const row = rows[0];
  return { consumed: row?.consumed === true, recorded: row?.recorded === true };
}
