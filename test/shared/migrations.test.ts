import t from 'tap';
import { sql } from 'kysely';
import { connect } from '../../services/shared/db/connect.js';
import { createMigrator, migrateToLatest, pendingMigrations } from '../../services/shared/db/migrator.js';
import { createTestDatabase, listenForRevocations, migrationNames, withDb } from '../helpers/db.js';

const TABLES = ['issued_tokens', 'saml_assertions', 'saml_logout_pending', 'saml_logout_seen', 'saml_requests', 'sessions'];

async function tables(db: ReturnType<typeof connect>): Promise<string[]> {
  const rows = await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = 'public' and tablename not like 'kysely_%' order by tablename`.execute(db.kysely);
  return rows.rows.map((r) => r.tablename);
}

t.test('migrations apply, revert and apply again on a fresh database', async (t) => {
  const { url } = await createTestDatabase(t, { migrate: false });
  const db = connect({ url, poolMax: 2 });
  t.teardown(() => db.destroy());
  t.ok((await pendingMigrations(db.kysely)).length > 0, 'pending before');
  const applied = await migrateToLatest(db.kysely);
  t.same(applied, migrationNames(), 'every migration, in order');
  t.same(await tables(db), TABLES);
  t.same(await pendingMigrations(db.kysely), [], 'nothing pending after');

  for (const name of [...migrationNames()].reverse()) {
    const down = await createMigrator(db.kysely).migrateDown();
    t.error(down.error);
    t.same(down.results?.map((r) => r.migrationName), [name], `down reverts ${name}`);
  }
  t.same(await tables(db), [], 'reverting every migration removes every table');
  t.same(await migrateToLatest(db.kysely), migrationNames(), 'up again');
  t.same(await tables(db), TABLES);
  t.same(await migrateToLatest(db.kysely), [], 'idempotent');
});

t.test('the replay store refuses a second use of the same assertion id', async (t) => {
  const db = await withDb(t);
  const row = { assertion_id: '_a1', idp_issuer: 'https://idp', expires_at: new Date(Date.now() + 60_000) };
  await db.kysely.insertInto('saml_assertions').values(row).execute();
  await t.rejects(db.kysely.insertInto('saml_assertions').values(row).execute(), { code: '23505' });
});

t.test('revoking or deleting a live token notifies listeners with its jti; the expiry sweep does not', async (t) => {
  const db = await withDb(t);
  const revocations = await listenForRevocations(t, db.url);

  const now = Date.now();
  const token = (jti: string, expiresInMs: number) => ({
    jti,
    subject: 'alice',
    email: 'alice@example.com',
    groups: ['staff'],
    idp_issuer: 'https://idp',
    issued_at: new Date(now - 1000),
    expires_at: new Date(now + expiresInMs),
  });
  await db.kysely.insertInto('issued_tokens').values([token('live-1', 60_000), token('live-2', 60_000), token('dead', 500)]).execute();
  await db.kysely.updateTable('issued_tokens').set({ revoked_at: new Date(), revoked_reason: 'logout' }).where('jti', '=', 'live-1').execute();
  await db.kysely.deleteFrom('issued_tokens').where('jti', '=', 'live-2').execute();
  await sql`select pg_sleep(0.6)`.execute(db.kysely);
  await db.kysely.deleteFrom('issued_tokens').where('expires_at', '<', new Date()).execute();
  t.same(await revocations.received(), ['live-1', 'live-2']);
  const stored = await db.kysely.selectFrom('issued_tokens').select(['jti', 'groups', 'revoked_reason']).execute();
  t.same(stored, [{ jti: 'live-1', groups: ['staff'], revoked_reason: 'logout' }], 'groups round-trip as an array');
});
