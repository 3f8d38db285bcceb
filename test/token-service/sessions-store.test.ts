import t from 'tap';
import { randomBytes } from 'node:crypto';
import { listenForRevocations, withDb } from '../helpers/db.js';
import { insertToken, sweepExpired } from '../../services/token-service/store/tokens.js';
import { endSession, endSessionsOf, endSessionsOfSubject, insertSession } from '../../services/token-service/store/sessions.js';
import { Registry } from 'prom-client';
import { LogCapture } from '../helpers/app.js';
import { buildTokenService } from '../helpers/token-service.js';
import { createAudit } from '../../services/shared/audit.js';
import { tokenMetrics } from '../../services/token-service/metrics.js';
import { sweepOnce } from '../../services/token-service/tokens/sweeper.js';

type Db = Awaited<ReturnType<typeof withDb>>;
const IDP = 'https://idp.example.com';
const OTHER_IDP = 'https://partner.example.com';

async function session(db: Db, sid: string, o: { subject?: string; idp?: string; index?: string | null; expiresInMs?: number } = {}): Promise<void> {
  const now = Date.now();
  await insertSession(db.kysely, {
    sid,
    secretHash: randomBytes(32),
    subject: o.subject ?? 'alice@example.com',
    email: 'alice@example.com',
    groups: ['staff'],
    idpIssuer: o.idp ?? IDP,
    sessionIndex: o.index === undefined ? `idx-${sid}` : o.index,
    nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    clientAddress: '192.0.2.1',
    createdAt: new Date(now - 1000),
    idleExpiresAt: new Date(now + 1_800_000),
    expiresAt: new Date(now + (o.expiresInMs ?? 43_200_000)),
  });
  await token(db, `${sid}-t1`, { sid, subject: o.subject, idp: o.idp, index: o.index === undefined ? `idx-${sid}` : o.index });
}

async function token(db: Db, jti: string, o: { sid?: string | null; subject?: string | undefined; idp?: string | undefined; index?: string | null; expiresInMs?: number } = {}): Promise<void> {
  const now = Date.now();
  await insertToken(db.kysely, {
    jti,
    subject: o.subject ?? 'alice@example.com',
    email: null,
    groups: [],
    idpIssuer: o.idp ?? IDP,
    sessionIndex: o.index ?? null,
    clientAddress: null,
    issuedAt: new Date(now - 1000),
    expiresAt: new Date(now + (o.expiresInMs ?? 600_000)),
    sid: o.sid ?? null,
  });
}

async function liveTokens(db: Db): Promise<string[]> {
  return (await db.pool.query('select jti from issued_tokens where revoked_at is null order by jti')).rows.map((r: { jti: string }) => r.jti);
}
async function liveSessions(db: Db): Promise<string[]> {
  return (await db.pool.query('select sid from sessions where ended_at is null order by sid')).rows.map((r: { sid: string }) => r.sid);
}

const cases: { name: string; who: { idpIssuer: string; subject: string; sessionIndex?: string | null }; ended: string[]; liveTokens: string[] }[] = [
  {
    name: 'ends only the session with that SessionIndex and revokes only its tokens',
    who: { idpIssuer: IDP, subject: 'alice@example.com', sessionIndex: 'idx-s1' },
    ended: ['s1'],
    liveTokens: ['bob-s-t1', 'legacy-other-index', 'other-idp-t1', 's2-t1'],
  },
  {
    name: 'ends every session of the NameID at that IdP when there is no SessionIndex',
    who: { idpIssuer: IDP, subject: 'alice@example.com', sessionIndex: null },
    ended: ['s1', 's2'],
    liveTokens: ['bob-s-t1', 'other-idp-t1'],
  },
  {
    name: 'treats an absent SessionIndex like null',
    who: { idpIssuer: IDP, subject: 'alice@example.com' },
    ended: ['s1', 's2'],
    liveTokens: ['bob-s-t1', 'other-idp-t1'],
  },
  {
    name: 'ends nothing for the same NameID at another IdP',
    who: { idpIssuer: 'https://stranger.example.com', subject: 'alice@example.com' },
    ended: [],
    liveTokens: ['bob-s-t1', 'legacy-other-index', 'other-idp-t1', 's1-t1', 's2-t1'],
  },
  {
    name: 'ends nothing for an unknown SessionIndex',
    who: { idpIssuer: IDP, subject: 'alice@example.com', sessionIndex: 'nope' },
    ended: [],
    liveTokens: ['bob-s-t1', 'legacy-other-index', 'other-idp-t1', 's1-t1', 's2-t1'],
  },
];

for (const c of cases) {
  t.test(`endSessionsOf ${c.name}`, async (t) => {
    const db = await withDb(t);
    await session(db, 's1');
    await session(db, 's2');
    await session(db, 'bob-s', { subject: 'bob@example.com' });
    await session(db, 'other-idp', { idp: OTHER_IDP });
    // A token from before sessions existed: no sid, matched by IdP, NameID and SessionIndex.
    await token(db, 'legacy-other-index', { index: 'idx-legacy' });
    t.same((await endSessionsOf(db.kysely, c.who, 'idp_logout')).sort(), c.ended);
    t.same(await liveTokens(db), c.liveTokens);
    const reasons = (await db.pool.query(`select sid, end_reason from sessions where ended_at is not null order by sid`)).rows;
    t.same(reasons, c.ended.map((sid) => ({ sid, end_reason: 'idp_logout' })));
    t.same(await endSessionsOf(db.kysely, c.who, 'idp_logout'), [], 'a second logout ends nothing');
  });
}

t.test('endSession ends one session, revokes its tokens and notifies every listener of each', async (t) => {
  const db = await withDb(t);
  const revocations = await listenForRevocations(t, db.url);
  await session(db, 's1');
  await token(db, 's1-t2', { sid: 's1' });
  await token(db, 's1-revoked', { sid: 's1' });
  await db.pool.query(`update issued_tokens set revoked_at = now(), revoked_reason = 'logout' where jti = 's1-revoked'`);
  await session(db, 's2');

  t.equal(await endSession(db.kysely, 's1', 'sign_out'), true);
  t.equal(await endSession(db.kysely, 's1', 'sign_out'), false, 'already ended');
  t.equal(await endSession(db.kysely, 'unknown', 'sign_out'), false, 'unknown');
  t.same((await revocations.received()).sort(), ['s1-revoked', 's1-t1', 's1-t2'], 'the earlier revocation, then each live token of the session, once');
  const reasons = (await db.pool.query(`select jti, revoked_reason from issued_tokens where sid = 's1' order by jti`)).rows;
  t.same(reasons, [{ jti: 's1-revoked', revoked_reason: 'logout' }, { jti: 's1-t1', revoked_reason: 'sign_out' }, { jti: 's1-t2', revoked_reason: 'sign_out' }]);
  t.same(await liveTokens(db), ['s2-t1']);
  t.same(await liveSessions(db), ['s2']);
});

t.test('endSessionsOfSubject ends the subject\'s sessions at every IdP, and nobody else\'s', async (t) => {
  const db = await withDb(t);
  await session(db, 's1');
  await session(db, 'other-idp', { idp: OTHER_IDP });
  await session(db, 'bob-s', { subject: 'bob@example.com' });
  t.same((await endSessionsOfSubject(db.kysely, 'alice@example.com', 'revoked')).sort(), ['other-idp', 's1']);
  t.same(await liveSessions(db), ['bob-s']);
  t.same(await liveTokens(db), ['bob-s-t1']);
});

t.test('the sweep deletes sessions past their absolute expiry plus the grace, ended or not, and keeps the rest', async (t) => {
  const db = await withDb(t);
  await session(db, 'live');
  await session(db, 'ended-live');
  await endSession(db.kysely, 'ended-live', 'idle');
  await db.pool.query(`update sessions set created_at = now() - interval '2 hours', expires_at = now() - interval '10 minutes' where sid = 'live'`);
  await session(db, 'just-expired');
  await db.pool.query(`update sessions set created_at = now() - interval '2 hours', expires_at = now() - interval '10 seconds' where sid = 'just-expired'`);
  const counts = await sweepExpired(db.kysely, 60);
  t.equal(counts.sessions, 1);
  t.same((await db.pool.query('select sid from sessions order by sid')).rows.map((r: { sid: string }) => r.sid), ['ended-live', 'just-expired'],
    'an idle-ended session is kept until its absolute expiry, so a returning browser is asked to re-authenticate');
});

t.test('the sweeper ends sessions that lapsed unseen (idle or absolute), once across replicas, audited and counted', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  await session(db, 'idle');
  await session(db, 'expired');
  await session(db, 'live');
  await session(db, 'signed-out');
  await endSession(db.kysely, 'signed-out', 'sign_out');
  await db.pool.query(`update sessions set idle_expires_at = now() - interval '5 minutes' where sid in ('idle', 'signed-out')`);
  await db.pool.query(`update sessions set created_at = now() - interval '13 hours', expires_at = now() - interval '20 seconds' where sid = 'expired'`);
  const audit = new LogCapture();
  const registry = new Registry();
  const deps = { audit: createAudit('token-service', audit), metrics: tokenMetrics(registry) };
  // Two replicas sweeping at once: each session is ended by exactly one of them.
  const [a, b] = await Promise.all([sweepOnce(svc.app, 60, deps), sweepOnce(svc.app, 60, deps)]);
  t.equal(a.sessionsEnded + b.sessionsEnded, 2);
  const rows = (await db.pool.query(`select sid, end_reason, coalesce(ended_at = least(idle_expires_at, expires_at), false) as at_deadline from sessions order by sid`)).rows;
  t.same(rows, [
    { sid: 'expired', end_reason: 'expired', at_deadline: true },
    { sid: 'idle', end_reason: 'idle', at_deadline: true },
    { sid: 'live', end_reason: null, at_deadline: false },
    { sid: 'signed-out', end_reason: 'sign_out', at_deadline: false },
  ]);
  t.same(await liveTokens(db), ['live-t1'], 'their tokens revoked too');
  t.same(audit.lines.map((l) => [l.event, l.sid, l.reason]).sort(), [['session_ended', 'expired', 'expired'], ['session_ended', 'idle', 'idle']]);
  t.match(await registry.getSingleMetricAsString('sessions_ended_total'), /sessions_ended_total\{reason="idle"\} 1\n.*\{reason="expired"\} 1/s);
});
