import type { Kysely } from 'kysely';
import type { Database, IssuedTokenRow } from '../../shared/db/schema.js';

/** What liveness needs of a token row: whose it is, until when, and whether it was revoked. */
export type TokenState = Pick<IssuedTokenRow, 'jti' | 'subject' | 'expires_at' | 'revoked_at'>;

/** The rows of these token ids (absent ids have no row: unknown to the database). One query. */
export async function findTokenStates(db: Kysely<Database>, jtis: readonly string[]): Promise<TokenState[]> {
  if (jtis.length === 0) return [];
  return db.selectFrom('issued_tokens').select(['jti', 'subject', 'expires_at', 'revoked_at']).where('jti', 'in', [...jtis]).execute();
}
