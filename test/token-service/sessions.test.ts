import t from 'tap';
import { inflateRawSync } from 'node:zlib';
import { decodeJwt } from 'jose';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs, RETURN_BASE, type TokenFixture } from '../helpers/token-service.js';
import { endSession } from '../../services/token-service/store/sessions.js';
import { ownPostgres } from '../helpers/own-postgres.js';

type Db = Awaited<ReturnType<typeof withDb>>;
type Res = { statusCode: number; headers: Record<string, unknown>; body: string };
const HTML = 'text/html,application/xhtml+xml';
const RD = `${RETURN_BASE}reports?q=1`;

const setCookies = (res: Res): string[] => [res.headers['set-cookie'] ?? []].flat().map(String);
const cookieValue = (res: Res, name: string): string | undefined => {
  const c = setCookies(res).find((x) => x.startsWith(`${name}=`));
  return c === undefined ? undefined : c.slice(name.length + 1).split(';', 1)[0];
};

/** A browser sign-in (IdP-initiated form post): the token, the renewal secret and the session id. */
async function signIn(svc: TokenFixture, over: Parameters<TokenFixture['sign']>[0] = {}) {
  const res = await postAcs(svc.app, (await svc.sign(over)).samlResponse, { accept: HTML, relayState: RD });
  if (res.statusCode !== 303) throw new Error(`sign-in: ${res.statusCode} ${res.body}`);
  const token = cookieValue(res, '__Host-saml_authz')!;
  const secret = cookieValue(res, '__Host-saml_authz_session')!;
  return { res, token, secret, sid: String(decodeJwt(token).sid), jti: String(decodeJwt(token).jti) };
}

/** NGINX's sign-in redirect after a 401: the browser navigates to /saml/login?rd=… with its cookies. */
function renew(svc: TokenFixture, cookie: string | undefined, opts: { accept?: string; query?: string } = {}) {
  return svc.app.inject({
    url: `/saml/login?rd=${encodeURIComponent(RD)}${opts.query ?? ''}`,
    headers: { accept: opts.accept ?? HTML, 'sec-fetch-dest': 'document', ...(cookie === undefined ? {} : { cookie }) },
  });
}

/** ForceAuthn of the AuthnRequest a /saml/login redirect carries, or undefined when it is no IdP redirect. */
function forceAuthn(res: Res): boolean | undefined {
  if (res.statusCode !== 302) return undefined;
  const req = new URL(String(res.headers.location)).searchParams.get('SAMLRequest');
  if (req === null) return undefined;
  return /\bForceAuthn="true"/.test(inflateRawSync(Buffer.from(req, 'base64')).toString('utf8'));
}

async function session(db: Db, sid: string) {
  return db.kysely.selectFrom('sessions').selectAll().where('sid', '=', sid).executeTakeFirstOrThrow();
}
async function liveJtis(db: Db, sid: string): Promise<string[]> {
  return (await db.kysely.selectFrom('issued_tokens').select('jti').where('sid', '=', sid).where('revoked_at', 'is', null).orderBy('jti').execute()).map((r) => r.jti);
}
async function metric(svc: TokenFixture, name: string, label: string): Promise<number> {
  const text = await svc.app.metrics.getSingleMetricAsString(name);
  const m = new RegExp(`^${name}\\{[a-z]+="${label}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

t.test('a sign-in starts a session: the token names it, the row keeps only the secret\'s hash and the IdP\'s SessionIndex', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const before = Date.now();
  const s = await signIn(svc, { sessionIndex: '_idx-1' });
  const row = await session(db, s.sid);
  t.equal(row.subject, 'alice@example.com');
  t.equal(row.session_index, '_idx-1');
  t.equal(row.idp_issuer, 'http://www.okta.com/exk-test');
  t.equal(row.secret_hash?.length, 32, 'a SHA-256');
  t.notOk(JSON.stringify(row).includes(s.secret), 'never the secret itself');
  t.ok(Math.abs(row.expires_at.getTime() - (before + 43_200_000)) < 5000, 'absolute end: 12 h by default');
  t.ok(Math.abs(row.idle_expires_at.getTime() - (before + 1_800_000)) < 5000, 'idle deadline: 30 min by default');
  t.same(await liveJtis(db, s.sid), [s.jti], 'the token row carries the sid');
  t.equal(svc.logs.find((l) => l.event === 'session_started' && l.sid === s.sid).length, 1, 'audited');
  t.match(await svc.app.metrics.getSingleMetricAsString('sessions_started_total'), /sessions_started_total 1$/m);
});

t.test('a program\'s sign-in (JSON) starts a session that cannot be renewed, and sets no cookie', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const res = await postAcs(svc.app, (await svc.sign()).samlResponse);
  t.equal(res.statusCode, 200);
  t.same(setCookies(res), []);
  const sid = String(decodeJwt(res.json().access_token).sid);
  t.equal((await session(db, sid)).secret_hash, null);
});

t.test('SessionNotOnOrAfter caps the session, its cookie and its tokens', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const end = new Date(Math.floor(Date.now() / 1000) * 1000 + 600_000);
  const s = await signIn(svc, { sessionNotOnOrAfter: end });
  t.same((await session(db, s.sid)).expires_at, end, 'the IdP\'s end, sooner than 12 h');
  t.equal(decodeJwt(s.token).exp, end.getTime() / 1000, 'the token never outlives the session (10 min < the 15 min lifetime)');
  t.match(setCookies(s.res).find((c) => c.startsWith('__Host-saml_authz_session=')), /; Max-Age=(59\d|600);/);
});

t.test('renewal: a live session gets a new token without the IdP, and its activity is recorded', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const s = await signIn(svc);
  await db.pool.query(`update sessions set last_seen_at = now() - interval '20 minutes', idle_expires_at = now() + interval '10 minutes' where sid = $1`, [s.sid]);
  const res = await renew(svc, `__Host-saml_authz=${s.token}; __Host-saml_authz_session=${s.secret}`);
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, RD, 'back to rd');
  t.equal(res.headers['cache-control'], 'no-store');
  const cookies = setCookies(res);
  t.equal(cookies.length, 1, 'only the token cookie; the session cookie stays as it is');
  t.match(cookies[0], /^__Host-saml_authz=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=900; Secure$/);
  const claims = decodeJwt(cookieValue(res, '__Host-saml_authz')!);
  t.equal(claims.sid, s.sid, 'same session');
  t.not(claims.jti, s.jti, 'a new token');
  t.same(await liveJtis(db, s.sid), [String(claims.jti), s.jti].sort(), 'the token issued just now is not revoked (overlap)');
  const row = await session(db, s.sid);
  t.ok(Date.now() - row.last_seen_at.getTime() < 5000, 'activity seen');
  t.ok(Math.abs(row.idle_expires_at.getTime() - (Date.now() + 1_800_000)) < 5000, 'the idle deadline moves forward');
  t.equal(await metric(svc, 'session_renewals_total', 'renewed'), 1);
  t.equal(svc.logs.find((l) => l.event === 'session_renewed' && l.sid === s.sid && l.jti === claims.jti).length, 1);
});

t.test('renewal revokes the session\'s older tokens: an old cookie replayed after a renewal is dead everywhere', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const s = await signIn(svc);
  await db.pool.query(`update issued_tokens set issued_at = issued_at - interval '1 minute' where jti = $1`, [s.jti]);
  const res = await renew(svc, `__Host-saml_authz_session=${s.secret}`);
  t.equal(res.statusCode, 303);
  const fresh = String(decodeJwt(cookieValue(res, '__Host-saml_authz')!).jti);
  t.same(await liveJtis(db, s.sid), [fresh]);
  const old = await db.kysely.selectFrom('issued_tokens').select(['revoked_reason']).where('jti', '=', s.jti).executeTakeFirstOrThrow();
  t.equal(old.revoked_reason, 'renewed');
});

t.test('two tabs renewing at once each get a valid token (the row lock serialises them)', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const s = await signIn(svc);
  const cookie = `__Host-saml_authz_session=${s.secret}`;
  const results = await Promise.all([renew(svc, cookie), renew(svc, cookie), renew(svc, cookie)]);
  t.same(results.map((r) => r.statusCode), [303, 303, 303]);
  const jtis = results.map((r) => String(decodeJwt(cookieValue(r, '__Host-saml_authz')!).jti));
  t.equal(new Set(jtis).size, 3, 'three tokens');
  const live = await liveJtis(db, s.sid);
  t.ok(jtis.every((j) => live.includes(j)), 'each still live');
});

const ended: { name: string; setup: (db: Db, sid: string) => Promise<unknown>; result: string; page?: RegExp; endReason: string; counted?: string }[] = [
  {
    name: 'an idle session is ended at the renewal that finds it idle',
    setup: (db, sid) => db.pool.query(`update sessions set idle_expires_at = now() - interval '1 second' where sid = $1`, [sid]),
    result: 'idle',
    page: /You were signed out after 30 minutes without activity/,
    endReason: 'idle',
    counted: 'idle',
  },
  {
    name: 'a session past its absolute end is ended at the renewal that finds it',
    setup: (db, sid) => db.pool.query(`update sessions set created_at = now() - interval '13 hours', expires_at = now() - interval '1 second' where sid = $1`, [sid]),
    result: 'expired',
    page: /reached its maximum length/,
    endReason: 'expired',
    counted: 'expired',
  },
  {
    name: 'a signed-out session',
    setup: (db, sid) => endSession(db.kysely, sid, 'sign_out'),
    result: 'ended',
    endReason: 'sign_out',
  },
  {
    name: 'an operator-revoked session',
    setup: (db, sid) => endSession(db.kysely, sid, 'revoked'),
    result: 'ended',
    endReason: 'revoked',
  },
];

for (const c of ended) {
  t.test(`${c.name} is never renewed; the next sign-in asks the IdP to re-authenticate (ForceAuthn)`, async (t) => {
    const db = await withDb(t);
    const svc = await buildTokenService(t, { databaseUrl: db.url });
    const s = await signIn(svc);
    await c.setup(db, s.sid);
    const cookie = `__Host-saml_authz=${s.token}; __Host-saml_authz_session=${s.secret}`;
    const browser = await renew(svc, cookie);
    if (c.page) {
      t.equal(browser.statusCode, 200, 'a page for the person');
      t.equal(browser.headers['content-type'], 'text/html; charset=utf-8');
      t.match(browser.body, /<h1>Session expired<\/h1>/);
      t.match(browser.body, c.page);
      t.ok(browser.body.includes(`href="/saml/login?rd=${encodeURIComponent(RD).replace(/%20/g, '+')}&amp;reauth=1"`), 'whose link signs in again with ForceAuthn');
      t.match(String(browser.headers['content-security-policy']), /default-src 'none'/);
    } else {
      t.equal(forceAuthn(browser), true, 'straight to the IdP, with ForceAuthn');
    }
    t.ok(setCookies(browser).includes('__Host-saml_authz=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure'), 'the token cookie is cleared');
    t.ok(setCookies(browser).includes('__Host-saml_authz_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure'), 'the session cookie is cleared');
    t.equal(cookieValue(browser, '__Host-saml_authz'), '', 'no new token');
    t.same(await liveJtis(db, s.sid), [], 'no live token of the session');
    t.equal((await session(db, s.sid)).end_reason, c.endReason);
    t.equal(forceAuthn(await renew(svc, cookie, { accept: 'application/json' })), true, 'a client that is not a browser page goes to the IdP with ForceAuthn');
    t.equal(forceAuthn(await renew(svc, undefined, { query: '&reauth=1' })), true, 'the page\'s link asks for ForceAuthn');
    t.equal(forceAuthn(await renew(svc, undefined)), false, 'a browser without a session cookie: an ordinary sign-in');
    t.equal(await metric(svc, 'session_renewals_total', c.result), c.page ? 1 : 2);
    if (c.counted) {
      t.equal(await metric(svc, 'sessions_ended_total', c.counted), 1, 'counted once');
      t.equal(svc.logs.find((l) => l.event === 'session_ended' && l.sid === s.sid && l.reason === c.counted).length, 1, 'audited once');
    }
  });
}

t.test('a session cookie that cannot be read one way only, or is unknown, renews nothing', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { RATE_LIMIT_MAX: '1000' } });
  const s = await signIn(svc);
  const rows: { name: string; cookie: string; result: string; force: boolean }[] = [
    { name: 'the cookie twice (one tossed by a sibling site)', cookie: `__Host-saml_authz_session=${'A'.repeat(43)}; __Host-saml_authz_session=${s.secret}`, result: 'ambiguous', force: false },
    { name: 'a garbled cookie', cookie: '__Host-saml_authz_session=not-a-secret', result: 'malformed', force: false },
    { name: 'a well-formed but unknown secret', cookie: `__Host-saml_authz_session=${'B'.repeat(43)}`, result: 'unknown', force: true },
  ];
  for (const row of rows) {
    const res = await renew(svc, row.cookie);
    t.equal(res.statusCode, 302, `${row.name}: to the IdP`);
    t.equal(forceAuthn(res), row.force, `${row.name}: ForceAuthn ${row.force}`);
    t.equal(await metric(svc, 'session_renewals_total', row.result), 1, `${row.name}: counted as ${row.result}`);
  }
  t.same(await liveJtis(db, s.sid), [s.jti], 'the real session is untouched');
});

t.test('Postgres down at renewal: 503 and no token cookie; back up: the session renews', async (t) => {
  const pg = await ownPostgres(t);
  const svc = await buildTokenService(t, { databaseUrl: pg.url });
  const s = await signIn(svc);
  await pg.stop();
  const down = await renew(svc, `__Host-saml_authz_session=${s.secret}`);
  t.equal(down.statusCode, 503);
  t.match(down.body, /The sign-in service is temporarily unavailable/, 'a page for the browser');
  t.equal(cookieValue(down, '__Host-saml_authz'), undefined, 'no token');
  const program = await renew(svc, `__Host-saml_authz_session=${s.secret}`, { accept: 'application/json' });
  t.equal(program.statusCode, 503);
  t.same(program.json(), { error: 'service_unavailable', message: 'service temporarily unavailable' });
  t.equal(await metric(svc, 'session_renewals_total', 'database_unavailable'), 2);
  await pg.start();
  const up = await renew(svc, `__Host-saml_authz_session=${s.secret}`);
  t.equal(up.statusCode, 303, 'renews once Postgres is back');
});
