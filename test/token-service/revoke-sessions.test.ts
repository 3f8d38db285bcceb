import t from 'tap';
import { Writable } from 'node:stream';
import { decodeJwt } from 'jose';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs, RETURN_BASE, type TokenFixture } from '../helpers/token-service.js';
import { runRevoke } from '../../services/token-service/cli/revoke.js';

const HTML = 'text/html,application/xhtml+xml';

async function signIn(svc: TokenFixture, nameId: string) {
  const res = await postAcs(svc.app, (await svc.sign({ nameId, email: nameId })).samlResponse, { accept: HTML, relayState: RETURN_BASE });
  const cookies = [res.headers['set-cookie'] ?? []].flat().map(String);
  const secret = cookies.find((c) => c.startsWith('__Host-saml_authz_session='))!.split(';', 1)[0]!;
  const token = cookies.find((c) => c.startsWith('__Host-saml_authz='))!.split(';', 1)[0]!.slice('__Host-saml_authz='.length);
  return { sid: String(decodeJwt(token).sid), sessionCookie: secret };
}

function auditSink(): { stream: Writable; events: Record<string, unknown>[] } {
  const events: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { for (const line of String(chunk).split('\n').filter(Boolean)) events.push(JSON.parse(line)); done(); } });
  return { stream, events };
}

t.test('revoke --session ends one session: its tokens are revoked and it is never renewed', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const a = await signIn(svc, 'alice@example.com');
  const b = await signIn(svc, 'alice@example.com');
  const out: string[] = [];
  const audit = auditSink();
  t.equal(await runRevoke(['--session', a.sid, '--reason', 'stolen laptop'], { DATABASE_URL: db.url }, (l) => out.push(l), audit.stream), 0);
  t.same(out, [`ended session ${a.sid}; revoked 1 live token`]);
  const rows = await db.kysely.selectFrom('sessions').select(['sid', 'end_reason']).orderBy('created_at').execute();
  t.same(rows, [{ sid: a.sid, end_reason: 'revoked' }, { sid: b.sid, end_reason: null }], 'the other session of the same user lives on');
  const token = await db.kysely.selectFrom('issued_tokens').select(['revoked_reason']).where('sid', '=', a.sid).executeTakeFirstOrThrow();
  t.equal(token.revoked_reason, 'stolen laptop');
  t.match(audit.events, [{ event: 'session_ended', sid: a.sid, reason: 'revoked' }, { event: 'token_revoked', sid: a.sid, reason: 'stolen laptop' }]);
  const renew = await svc.app.inject({ url: `/saml/login?rd=${encodeURIComponent(RETURN_BASE)}`, headers: { cookie: a.sessionCookie } });
  t.equal(renew.statusCode, 302, 'not renewed: to the IdP');
  t.match(String(renew.headers.location), /^https:\/\/idp\.test\.example\/sso\?/);
  t.equal(await runRevoke(['--session', a.sid], { DATABASE_URL: db.url }, (l) => out.push(l)), 3, 'twice: nothing matched');
  t.equal(out.at(-1), `no live session with id ${JSON.stringify(a.sid)} (unknown, or already ended): nothing revoked`);
  t.equal(await runRevoke(['--session', a.sid, '--subject', 'x'], { DATABASE_URL: db.url }, (l) => out.push(l)), 2, 'one target at a time');
});

t.test('revoke --subject ends every session of the user and revokes every token, and nobody else\'s', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  await signIn(svc, 'alice@example.com');
  await signIn(svc, 'alice@example.com');
  const bob = await signIn(svc, 'bob@example.com');
  const out: string[] = [];
  t.equal(await runRevoke(['--subject', 'alice@example.com', '--reason', 'offboarded'], { DATABASE_URL: db.url }, (l) => out.push(l)), 0);
  t.same(out, ['ended 2 sessions; revoked 2 live tokens']);
  const live = await db.kysely.selectFrom('sessions').select('sid').where('ended_at', 'is', null).execute();
  t.same(live, [{ sid: bob.sid }]);
  const liveTokens = await db.kysely.selectFrom('issued_tokens').select('sid').where('revoked_at', 'is', null).execute();
  t.same(liveTokens, [{ sid: bob.sid }]);
});
