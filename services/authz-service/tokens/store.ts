import { sql, type Kysely } from 'kysely';
import type { Database } from '../../shared/db/schema.js';

/** `NOTIFY channel, payload` in its own transaction (the listener's probe goes the way revocations go). */
export async function sendNotification(db: Kysely<Database>, channel: string, payload: string): Promise<void> {
  await sql`select pg_notify(${channel}, ${payload})`.execute(db);
}
