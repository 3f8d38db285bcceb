import t from 'tap';
import { withDb } from '../helpers/db.js';
import { sweepExpired } from '../../services/token-service/store/tokens.js';
import { recordAssertion, saveRequestId } from '../../services/token-service/store/saml.js';
import { insertToken } from '../../services/token-service/store/tokens.js';

t.test('the sweep deletes expired tokens (after the grace), assertion ids and request ids, and nothing live', async (t) => {
  const db = await withDb(t);
  const now = Date.now();
  const token = (jti: string, expiresAt: number) =>
    insertToken(db.kysely, { jti, subject: 's', email: null, groups: [], idpIssuer: 'i', sessionIndex: null, clientAddress: null, issuedAt: new Date(expiresAt - 60_000), expiresAt: new Date(expiresAt) });
  await token('long-dead', now - 600_000);
  await token('just-expired', now - 10_000);
  await token('live', now + 600_000);
  await recordAssertion(db.kysely, { assertionId: 'a-dead', idpIssuer: 'i', jti: 'long-dead', expiresAt: new Date(now - 1000) });
  await recordAssertion(db.kysely, { assertionId: 'a-live', idpIssuer: 'i', jti: 'live', expiresAt: new Date(now + 60_000) });
  await saveRequestId(db.kysely, '_r-dead', new Date(now - 1000));
  await saveRequestId(db.kysely, '_r-live', new Date(now + 60_000));

  t.same(await sweepExpired(db.kysely, 60), { tokens: 1, assertions: 1, requests: 1, sessions: 0 });
  const ids = async (table: 'issued_tokens' | 'saml_assertions' | 'saml_requests', col: string) =>
    (await db.pool.query(`select ${col} as id from ${table} order by 1`)).rows.map((r: { id: string }) => r.id);
  t.same(await ids('issued_tokens', 'jti'), ['just-expired', 'live'], 'a token inside the grace period stays (it can still be revoked and looked up)');
  t.same(await ids('saml_assertions', 'assertion_id'), ['a-live']);
  t.same(await ids('saml_requests', 'request_id'), ['_r-live']);
  t.same(await sweepExpired(db.kysely, 60), { tokens: 0, assertions: 0, requests: 0, sessions: 0 }, 'idempotent');
});
