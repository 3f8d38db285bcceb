import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { withDb } from '../helpers/db.js';
import { recordAssertion, saveRequestId } from '../../services/token-service/store/saml.js';
import { recordSignIn, type SignIn } from '../../services/token-service/store/sign-in.js';

type Db = Awaited<ReturnType<typeof withDb>>;
const IDP = 'https://idp.example.com';
const OTHER_IDP = 'https://partner.example.com';
const STATE = createHash('sha256').update('nonce').digest();

function signIn(n: string, request: SignIn['request']): SignIn {
  const now = Date.now();
  const secretHash = randomBytes(32);
  const who = { subject: 'alice@example.com', email: 'alice@example.com', groups: ['staff', 'a,b'], idpIssuer: IDP, sessionIndex: `idx-${n}`, clientAddress: '192.0.2.1' };
  return {
    request,
    assertion: { assertionId: `_a-${n}`, idpIssuer: IDP, jti: `jti-${n}`, expiresAt: new Date(now + 300_000) },
    session: { ...who, sid: `sid-${n}`, secretHash, nameIdFormat: null, createdAt: new Date(now), idleExpiresAt: new Date(now + 1_800_000), expiresAt: new Date(now + 3_600_000) },
    token: { ...who, sid: `sid-${n}`, jti: `jti-${n}`, issuedAt: new Date(now), expiresAt: new Date(now + 600_000) },
  };
}

async function rows(db: Db) {
  const q = async (sql: string) => (await db.pool.query(sql)).rows.map((r: { id: string }) => r.id);
  return {
    requests: await q('select request_id as id from saml_requests order by 1'),
    assertions: await q('select assertion_id as id from saml_assertions order by 1'),
    sessions: await q('select sid as id from sessions order by 1'),
    tokens: await q('select jti as id from issued_tokens order by 1'),
  };
}

t.test('an IdP-initiated sign-in writes the assertion id, the session and the token row as given', async (t) => {
  const db = await withDb(t);
  const s = signIn('1', null);
  t.same(await recordSignIn(db.kysely, s), { consumed: true, recorded: true });
  t.same(await rows(db), { requests: [], assertions: ['_a-1'], sessions: ['sid-1'], tokens: ['jti-1'] });
  const session = (await db.pool.query('select * from sessions')).rows[0];
  t.match(session, { subject: 'alice@example.com', groups: ['staff', 'a,b'], idp_issuer: IDP, session_index: 'idx-1', name_id_format: null, client_address: '192.0.2.1' });
  t.same(session.secret_hash, s.session.secretHash);
  t.equal(session.expires_at.getTime(), s.session.expiresAt.getTime());
  t.equal(session.last_seen_at.getTime(), s.session.createdAt.getTime());
  const token = (await db.pool.query('select * from issued_tokens')).rows[0];
  t.match(token, { sid: 'sid-1', subject: 'alice@example.com', groups: ['staff', 'a,b'], revoked_at: null });
  t.equal(token.expires_at.getTime(), s.token.expiresAt.getTime());
  const assertion = (await db.pool.query('select * from saml_assertions')).rows[0];
  t.match(assertion, { idp_issuer: IDP, jti: 'jti-1' });
});

// One row per case: what is in the database first, the sign-in, what it answers, what is left.
const cases: { name: string; before: (db: Db) => Promise<unknown>; request: SignIn['request']; answer: { consumed: boolean; recorded: boolean }; left: string[]; written: boolean }[] = [
  { name: 'the outstanding request is spent', before: (db) => saveRequestId(db.kysely, '_r', new Date(Date.now() + 60_000), { stateHash: STATE, clientNetwork: '192.0.2.1' }, IDP), request: { requestId: '_r', idpIssuer: IDP, stateHash: STATE }, answer: { consumed: true, recorded: true }, left: [], written: true },
  { name: 'a request written before requests named their IdP is spent', before: (db) => saveRequestId(db.kysely, '_r', new Date(Date.now() + 60_000)), request: { requestId: '_r', idpIssuer: IDP }, answer: { consumed: true, recorded: true }, left: [], written: true },
  { name: 'an unknown request: nothing written', before: async () => {}, request: { requestId: '_r', idpIssuer: IDP }, answer: { consumed: false, recorded: false }, left: [], written: false },
  { name: 'an expired request: nothing written, nothing spent', before: (db) => saveRequestId(db.kysely, '_r', new Date(Date.now() - 1000)), request: { requestId: '_r', idpIssuer: IDP }, answer: { consumed: false, recorded: false }, left: ['_r'], written: false },
  { name: 'a request sent to another IdP: nothing written, nothing spent', before: (db) => saveRequestId(db.kysely, '_r', new Date(Date.now() + 60_000), undefined, OTHER_IDP), request: { requestId: '_r', idpIssuer: IDP }, answer: { consumed: false, recorded: false }, left: ['_r'], written: false },
  { name: 'another browser\'s login state: nothing written, nothing spent', before: (db) => saveRequestId(db.kysely, '_r', new Date(Date.now() + 60_000), { stateHash: STATE, clientNetwork: '192.0.2.1' }, IDP), request: { requestId: '_r', idpIssuer: IDP, stateHash: randomBytes(32) }, answer: { consumed: false, recorded: false }, left: ['_r'], written: false },
  {
    name: 'a replayed assertion id: nothing written, the request stays outstanding',
    before: async (db) => {
      await saveRequestId(db.kysely, '_r', new Date(Date.now() + 60_000), undefined, IDP);
      await recordAssertion(db.kysely, { assertionId: '_a-1', idpIssuer: IDP, jti: 'earlier', expiresAt: new Date(Date.now() + 60_000) });
    },
    request: { requestId: '_r', idpIssuer: IDP },
    answer: { consumed: true, recorded: false },
    left: ['_r'],
    written: false,
  },
];

for (const c of cases) {
  t.test(`a sign-in answering a request: ${c.name}`, async (t) => {
    const db = await withDb(t);
    await c.before(db);
    const assertionsBefore = (await rows(db)).assertions;
    t.same(await recordSignIn(db.kysely, signIn('1', c.request)), c.answer);
    t.same(await rows(db), {
      requests: c.left,
      assertions: c.written ? ['_a-1'] : assertionsBefore,
      sessions: c.written ? ['sid-1'] : [],
      tokens: c.written ? ['jti-1'] : [],
    });
  });
}

t.test('the same assertion twice at once (IdP-initiated): exactly one sign-in is written', async (t) => {
  const db = await withDb(t);
  const a = signIn('1', null);
  const b = { ...signIn('2', null), assertion: { ...signIn('2', null).assertion, assertionId: '_a-1' } };
  const answers = await Promise.all([recordSignIn(db.kysely, a), recordSignIn(db.kysely, b)]);
  t.same(answers.map((x) => x.recorded).sort(), [false, true]);
  const left = await rows(db);
  t.equal(left.sessions.length, 1);
  t.equal(left.tokens.length, 1);
});

t.test('the same request twice at once: exactly one sign-in spends it', async (t) => {
  const db = await withDb(t);
  await saveRequestId(db.kysely, '_r', new Date(Date.now() + 60_000), undefined, IDP);
  const answers = await Promise.all(['1', '2'].map((n) => recordSignIn(db.kysely, signIn(n, { requestId: '_r', idpIssuer: IDP }))));
  t.same(answers.map((x) => x.consumed && x.recorded).sort(), [false, true]);
  const left = await rows(db);
  t.same(left.requests, []);
  t.equal(left.sessions.length, 1);
  t.equal(left.tokens.length, 1);
});
