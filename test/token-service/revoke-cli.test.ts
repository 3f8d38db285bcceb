import t from 'tap';
import { withDb } from '../helpers/db.js';
import { mintLive, newSigningKey } from '../helpers/tokens.js';
import { runRevoke } from '../../services/token-service/cli/revoke.js';

t.test('revoke --subject revokes every live token of a user (offboarding); --jti one token', async (t) => {
  const db = await withDb(t);
  const key = newSigningKey();
  const alice = await Promise.all([1, 2, 3].map(() => mintLive(db.kysely, key, { subject: 'alice@example.com' })));
  const bob = await mintLive(db.kysely, key, { subject: 'bob@example.com' });
  const out: string[] = [];
  t.equal(await runRevoke(['--subject', 'alice@example.com'], { DATABASE_URL: db.url }, (l) => out.push(l)), 0);
  t.same(out, ['revoked 3 live tokens']);
  const live = await db.kysely.selectFrom('issued_tokens').select('jti').where('revoked_at', 'is', null).execute();
  t.same(live, [{ jti: bob.jti }]);
  t.equal(await runRevoke(['--jti', bob.jti, '--reason', 'lost laptop'], { DATABASE_URL: db.url }, (l) => out.push(l)), 0);
  t.equal(out.at(-1), 'revoked 1 live token');
  const row = await db.kysely.selectFrom('issued_tokens').select('revoked_reason').where('jti', '=', bob.jti).executeTakeFirstOrThrow();
  t.equal(row.revoked_reason, 'lost laptop');
  t.equal(await runRevoke(['--jti', alice[0]!.jti], { DATABASE_URL: db.url }, (l) => out.push(l)), 3, 'revoking twice revokes nothing, and says so');
  t.match(out.at(-1), /^no live token with id .*: nothing revoked$/);
  t.equal(await runRevoke([], { DATABASE_URL: db.url }, (l) => out.push(l)), 2, 'usage error');
});
