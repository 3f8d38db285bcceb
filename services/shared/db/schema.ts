import type { ColumnType, Generated, Kysely, Selectable, Transaction } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** One row per issued JWT: the authz-service accepts a token only while its row is live. */
export interface IssuedTokensTable {
  jti: string;
  subject: string;
  email: string | null;
  groups: ColumnType<string[], string[], string[]>;
  idp_issuer: string;
  session_index: string | null;
  client_address: string | null;
  issued_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  revoked_reason: string | null;
  /** The session the token belongs to (migration 0003; NULL for older tokens). */
  sid: ColumnType<string | null, string | null | undefined, never>;
}

/** One row per sign-in at the IdP (migration 0003): what renews tokens without the IdP, until it ends. */
export interface SessionsTable {
  sid: string;
  /** SHA-256 of the renewal secret in the browser's session cookie. */
  secret_hash: Buffer | null;
  subject: string;
  email: string | null;
  groups: ColumnType<string[], string[], string[]>;
  idp_issuer: string;
  session_index: string | null;
  name_id_format: string | null;
  client_address: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  idle_expires_at: Timestamp;
  expires_at: Timestamp;
  ended_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  end_reason: string | null;
}

/** SAML assertion ids already redeemed: the replay store, kept until NotOnOrAfter plus skew. */
export interface SamlAssertionsTable {
  assertion_id: string;
  idp_issuer: string;
  jti: string | null;
  received_at: Generated<Date>;
  expires_at: Timestamp;
}

/** Outstanding SP-initiated AuthnRequest ids, single use, so any replica can finish a login. */
export interface SamlRequestsTable {
  request_id: string;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  /** SHA-256 of the login-state nonce the starting browser holds (migration 0002). */
  state_hash: ColumnType<Buffer | null, Buffer | null | undefined, never>;
  /** The IPv4 address or IPv6 /64 that started the login (migration 0002). */
  client_network: ColumnType<string | null, string | null | undefined, never>;
  /** The entity id of the IdP the request was sent to: only it may answer (migration 0005). */
  idp_issuer: ColumnType<string | null, string | null | undefined, never>;
}

/** IdP LogoutRequest ids already acted on (replay store, migration 0004). */
export interface SamlLogoutSeenTable {
  idp_issuer: string;
  request_id: string;
  received_at: Generated<Date>;
  expires_at: Timestamp;
}

/** Outstanding SP-initiated LogoutRequest ids, single use (migration 0004). */
export interface SamlLogoutPendingTable {
  request_id: string;
  return_url: string | null;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  /** The entity id of the IdP the logout request was sent to: only its LogoutResponse completes it (migration 0005). */
  idp_issuer: ColumnType<string | null, string | null | undefined, never>;
}

export interface Database {
  issued_tokens: IssuedTokensTable;
  saml_assertions: SamlAssertionsTable;
  saml_requests: SamlRequestsTable;
  sessions: SessionsTable;
  saml_logout_seen: SamlLogoutSeenTable;
  saml_logout_pending: SamlLogoutPendingTable;
}

/** What a repository function runs on: the database, or a transaction its caller holds. */
export type Conn = Kysely<Database> | Transaction<Database>;

/** Rows as read. */
export type IssuedTokenRow = Selectable<IssuedTokensTable>;
export type SessionRow = Selectable<SessionsTable>;

/** The channel the database notifies on when a token row is revoked (payload: the jti). */
export const REVOCATION_CHANNEL = 'token_revoked';
