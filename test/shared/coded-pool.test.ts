/**
 * The services' Kysely (codedErrors): what fails in Postgres or on the way to it is a
 * DatabaseUnavailableError (503) with the original as its cause; the caller's own errors pass through.
 */
import t from 'tap';
import { sql } from 'kysely';
import { connect } from '../../services/shared/db/connect.js';
import { DatabaseUnavailableError, databaseFailure } from '../../services/shared/errors.js';
import { createTestDatabase } from '../helpers/db.js';

t.test('an error Postgres reports becomes a DatabaseUnavailableError with its SQLSTATE', async (t) => {
  const { url } = await createTestDatabase(t);
  const db = connect({ url, poolMax: 1, codedErrors: true });
  t.teardown(() => db.destroy());
  const err = await sql`select * from no_such_table`.execute(db.kysely).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof DatabaseUnavailableError, 'coded');
  t.match(err, { code: 'DATABASE_UNAVAILABLE', statusCode: 503 });
  if (err instanceof DatabaseUnavailableError) t.match(databaseFailure(err), { code: '42P01', message: /no_such_table/ });
});

t.test('a refusal or a TypeError thrown inside a transaction rolls it back and passes through as it is', async (t) => {
  const { url } = await createTestDatabase(t);
  const db = connect({ url, poolMax: 1, codedErrors: true });
  t.teardown(() => db.destroy());
  class Refusal extends Error {}
  for (const thrown of [new Refusal('replay'), new TypeError('x is undefined')]) {
    const err = await db.kysely.transaction().execute(async (trx) => {
      await sql`create table scratch (n int)`.execute(trx);
      throw thrown;
    }).then(() => undefined, (e: unknown) => e);
    t.equal(err, thrown, `${thrown.constructor.name}: the same error, not a DatabaseUnavailableError`);
    const exists = await sql<{ t: string | null }>`select to_regclass('scratch')::text as t`.execute(db.kysely);
    t.equal(exists.rows[0]?.t, null, `${thrown.constructor.name}: rolled back`);
  }
});

t.test('no connection to be had is a DatabaseUnavailableError; without codedErrors the driver\'s error is left as it is', async (t) => {
  const { url } = await createTestDatabase(t);
  const coded = connect({ url, poolMax: 1, codedErrors: true });
  const plain = connect({ url, poolMax: 1 });
  t.teardown(() => Promise.all([coded, plain].map((db) => db.destroy().catch(() => {})))); // their pools are ended here
  await coded.pool.end();
  await plain.pool.end();
  const codedErr = await sql`select 1`.execute(coded.kysely).then(() => undefined, (e: unknown) => e);
  t.ok(codedErr instanceof DatabaseUnavailableError, 'coded: the pool cannot be used');
  const plainErr = await sql`select 1`.execute(plain.kysely).then(() => undefined, (e: unknown) => e);
  t.ok(plainErr instanceof Error && !(plainErr instanceof DatabaseUnavailableError), 'plain: the driver\'s own error');
});
