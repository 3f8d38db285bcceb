import t from 'tap';
import { decodeJwt } from 'jose';
import { withDb } from '../helpers/db.js';
import { buildTokenService, IDP_ISSUER, postAcs, RETURN_BASE, type TokenFixture } from '../helpers/token-service.js';
import { mintLive } from '../helpers/tokens.js';

type Db = Awaited<ReturnType<typeof withDb>>;
type Res = { statusCode: number; headers: Record<string, unknown>; body: string };
const HTML = 'text/html,application/xhtml+xml';
const CLEARED = ['__Host-saml_authz=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure', '__Host-saml_authz_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure'];

const setCookies = (res: Res): string[] => [res.headers['set-cookie'] ?? []].flat().map(String);
const cookieValue = (res: Res, name: string) => setCookies(res).find((x) => x.startsWith(`${name}=`))?.slice(name.length + 1).split(';', 1)[0];

async function signIn(svc: TokenFixture, nameId = 'alice@example.com') {
  const res = await postAcs(svc.app, (await svc.sign({ nameId, email: nameId })).samlResponse, { accept: HTML, relayState: RETURN_BASE });
  const token = cookieValue(res, '__Host-saml_authz')!;
  const secret = cookieValue(res, '__Host-saml_authz_session')!;
  return { token, secret, sid: String(decodeJwt(token).sid), both: `__Host-saml_authz=${token}; __Host-saml_authz_session=${secret}` };
}

async function sessionState(db: Db, sid: string) {
  const s = await db.kysely.selectFrom('sessions').select(['end_reason']).where('sid', '=', sid).executeTakeFirstOrThrow();
  const live = await db.kysely.selectFrom('issued_tokens').select('jti').where('sid', '=', sid).where('revoked_at', 'is', null).execute();
  return { endReason: s.end_reason, liveTokens: live.length };
}

function form(svc: TokenFixture, cookie: string | undefined, body: Record<string, string> = {}, headers: Record<string, string> = {}) {
  return svc.app.inject({
    method: 'POST',
    url: '/logout',
    headers: { accept: HTML, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...(cookie ? { cookie } : {}), ...headers },
    payload: new URLSearchParams(body).toString(),
  });
}

t.test('a browser\'s sign-out ends the whole session and lands on a page or the allowed rd', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const rows: { name: string; cookie: (s: Awaited<ReturnType<typeof signIn>>) => string; body?: Record<string, string>; status: number; location?: string; page?: RegExp }[] = [
    { name: 'token and session cookies, no rd: the signed-out page', cookie: (s) => s.both, status: 200, page: /<h1>Signed out<\/h1>/ },
    { name: 'an allowed rd: 303 there', cookie: (s) => s.both, body: { rd: `${RETURN_BASE}bye` }, status: 303, location: `${RETURN_BASE}bye` },
    { name: 'an rd that is not allowed: ignored, the page (never an open redirect)', cookie: (s) => s.both, body: { rd: 'https://evil.example/' }, status: 200, page: /<h1>Signed out<\/h1>/ },
    { name: 'only the session cookie (the token expired and was dropped)', cookie: (s) => `__Host-saml_authz_session=${s.secret}`, status: 200, page: /<h1>Signed out<\/h1>/ },
    { name: 'only the token cookie: its sid names the session', cookie: (s) => `__Host-saml_authz=${s.token}`, status: 200, page: /<h1>Signed out<\/h1>/ },
  ];
  for (const row of rows) {
    const s = await signIn(svc);
    const res = await form(svc, row.cookie(s), row.body);
    t.equal(res.statusCode, row.status, `${row.name}: status`);
    t.equal(res.headers.location, row.location, `${row.name}: location`);
    if (row.page) t.match(res.body, row.page, `${row.name}: page`);
    t.same(setCookies(res), CLEARED, `${row.name}: both cookies cleared`);
    t.same(await sessionState(db, s.sid), { endReason: 'sign_out', liveTokens: 0 }, `${row.name}: session ended, every token revoked`);
  }
  t.match(await svc.app.metrics.getSingleMetricAsString('sessions_ended_total'), /sessions_ended_total\{reason="sign_out"\} 5/);
  const again = await form(svc, undefined);
  t.equal(again.statusCode, 200, 'signing out while signed out still lands on the page');
  t.match(again.body, /<h1>Signed out<\/h1>/);
});

t.test('programs keep the API: 204 with a valid token, 401 without; the session ends all the same', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const json = await postAcs(svc.app, (await svc.sign()).samlResponse);
  const token = json.json().access_token as string;
  const sid = String(decodeJwt(token).sid);
  const res = await svc.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${token}` } });
  t.equal(res.statusCode, 204);
  t.equal(res.body, '');
  t.same(await sessionState(db, sid), { endReason: 'sign_out', liveTokens: 0 });
  const none = await svc.app.inject({ method: 'POST', url: '/logout', headers: { accept: 'application/json' } });
  t.equal(none.statusCode, 401);
  t.same(none.json(), { error: 'invalid_token', message: 'no valid token presented' });
});

t.test('a link, an image or another site\'s form never signs anyone out: a confirmation form instead', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const s = await signIn(svc);
  const get = await svc.app.inject({ url: `/logout?rd=${encodeURIComponent(`${RETURN_BASE}bye`)}`, headers: { accept: HTML, cookie: s.both } });
  t.equal(get.statusCode, 200);
  t.match(get.body, /<h1>Sign out\?<\/h1>/);
  t.match(get.body, /<form method="post" action="\/logout"><input type="hidden" name="rd" value="https:\/\/app\.test\.example\/bye"><button type="submit">Sign out<\/button><\/form>/);
  t.same(setCookies(get), [], 'no cookie touched');
  const crossSite = await form(svc, s.both, {}, { 'sec-fetch-site': 'cross-site' });
  t.equal(crossSite.statusCode, 200);
  t.match(crossSite.body, /<h1>Sign out\?<\/h1>/);
  t.same(setCookies(crossSite), [], 'no cookie touched');
  t.same(await sessionState(db, s.sid), { endReason: null, liveTokens: 1 }, 'still signed in');
  const api = await svc.app.inject({ url: '/logout', headers: { accept: 'application/json' } });
  t.equal(api.statusCode, 405);
  t.equal(api.headers.allow, 'POST');
});

t.test('userinfo: the identity and session ends of a live token; 401 for none, a revoked one or an ended session', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const s = await signIn(svc);
  const res = await svc.app.inject({ url: '/userinfo', headers: { cookie: s.both } });
  t.equal(res.statusCode, 200);
  const body = res.json();
  const row = await db.kysely.selectFrom('sessions').selectAll().where('sid', '=', s.sid).executeTakeFirstOrThrow();
  t.same(body, {
    sub: 'alice@example.com',
    email: 'alice@example.com',
    groups: ['staff', 'admins'],
    sid: s.sid,
    idp: IDP_ISSUER,
    token_expires_at: new Date(Number(decodeJwt(s.token).exp) * 1000).toISOString(),
    session_expires_at: row.expires_at.toISOString(),
    session_idle_expires_at: row.idle_expires_at.toISOString(),
  });
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal((await svc.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${s.token}` } })).statusCode, 200, 'bearer too');
  t.equal((await svc.app.inject({ url: '/userinfo' })).statusCode, 401, 'no token');
  t.equal((await svc.app.inject({ url: '/userinfo', headers: { authorization: 'Bearer x.y.z' } })).statusCode, 401, 'garbage');
  await db.pool.query(`update sessions set ended_at = now(), end_reason = 'revoked' where sid = $1`, [s.sid]);
  const ended = await svc.app.inject({ url: '/userinfo', headers: { cookie: s.both } });
  t.equal(ended.statusCode, 401, 'an ended session, even while its token row is live');
  t.same(ended.json(), { error: 'invalid_token', message: 'no valid token presented' });
  const other = await signIn(svc, 'bob@example.com');
  await db.pool.query(`update issued_tokens set revoked_at = now(), revoked_reason = 'x' where sid = $1`, [other.sid]);
  t.equal((await svc.app.inject({ url: '/userinfo', headers: { cookie: other.both } })).statusCode, 401, 'a revoked token');

  const legacy = await mintLive(db.kysely, svc.jwtKey, { subject: 'carol@example.com', email: 'carol@example.com' });
  const old = await svc.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${legacy.token}` } });
  t.equal(old.statusCode, 200, 'a token from before sessions');
  t.match(old.json(), { sub: 'carol@example.com', sid: null, session_expires_at: null, session_idle_expires_at: null });
  const oddSid = await mintLive(db.kysely, svc.jwtKey, { extra: { sid: 42 } });
  t.equal((await svc.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${oddSid.token}` } })).statusCode, 401, 'a sid claim that is not a string: refused as malformed');
});

t.test('pages by Accept: the forbidden page says who is signed in and offers a sign-out button, programs get JSON', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const s = await signIn(svc, 'o\'brien<script>@example.com');
  const page = await svc.app.inject({ url: '/saml/forbidden', headers: { accept: HTML, cookie: s.both } });
  t.equal(page.statusCode, 403);
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.match(String(page.headers['content-security-policy']), /default-src 'none'.*form-action 'self'/);
  t.match(page.body, /<h1>Access denied<\/h1>/);
  t.ok(page.body.includes('<dd>o&#39;brien&lt;script&gt;@example.com</dd>'), 'who is signed in, escaped');
  t.notMatch(page.body, /<script/, 'nothing unescaped');
  t.match(page.body, /<form method="post" action="\/logout"><button type="submit">Sign out<\/button><\/form>/);
  t.match(page.body, /<html lang="en">/);
  const anonymous = await svc.app.inject({ url: '/saml/forbidden', headers: { accept: HTML } });
  t.equal(anonymous.statusCode, 403);
  t.notMatch(anonymous.body, /Signed in as/);
  t.match(anonymous.body, /<a href="\/saml\/login">Sign in<\/a>/);
  const json = await svc.app.inject({ url: '/saml/forbidden', headers: { accept: 'application/json', cookie: s.both } });
  t.equal(json.statusCode, 403);
  t.same(json.json(), { error: 'forbidden', message: 'you do not have access to this resource' });
});

t.test('pages by Accept: a refused sign-in is a page with a reference for a browser and JSON for a program', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const { samlResponse } = await svc.sign({ audience: 'https://someone-else.example/' });
  const page = await postAcs(svc.app, samlResponse, { accept: HTML, relayState: RETURN_BASE });
  t.equal(page.statusCode, 401);
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.match(page.body, /<h1>Sign-in not completed<\/h1>/);
  const ref = svc.logs.find((l) => l.event === 'saml_refused').at(-1)?.request_id;
  t.ok(typeof ref === 'string' && page.body.includes(`<code>${ref}</code>`), 'the request id to quote to support');
  t.notMatch(page.body, /audience/i, 'never the precise reason');
  const json = await postAcs(svc.app, samlResponse, { accept: 'application/json' });
  t.equal(json.statusCode, 401);
  t.same(json.json(), { error: 'invalid_saml_response', message: 'the SAML response was not accepted' });
});

t.test('pages by Accept: a sign-in that cannot start is a page for a browser, JSON for a program', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_MAX_PENDING_LOGINS: '1', RATE_LIMIT_MAX: '1000' } });
  const rows: { name: string; url: string; remote: string; status: number; page: RegExp; json: Record<string, string> }[] = [
    {
      name: 'a return URL that is not allowed',
      url: `/saml/login?rd=${encodeURIComponent('https://evil.example/')}`,
      remote: '198.51.100.1',
      status: 400,
      page: /return to an address this sign-in does not serve/,
      json: { error: 'return_url_not_allowed', message: 'rd is not an allowed return URL' },
    },
    {
      name: 'too many sign-ins from one network',
      url: '/saml/login',
      remote: '198.51.100.2',
      status: 429,
      page: /Too many sign-ins were started from your network/,
      json: { error: 'too_many_pending_logins', message: 'too many sign-ins started from this network; try again in a few minutes' },
    },
  ];
  t.equal((await svc.app.inject({ url: '/saml/login', remoteAddress: '198.51.100.2' })).statusCode, 302, 'the network\'s one pending sign-in');
  for (const row of rows) {
    const page = await svc.app.inject({ url: row.url, remoteAddress: row.remote, headers: { accept: HTML } });
    t.equal(page.statusCode, row.status, `${row.name}: ${row.status}`);
    t.equal(page.headers['content-type'], 'text/html; charset=utf-8', `${row.name}: a page`);
    t.match(page.body, /<h1>Sign-in not started<\/h1>/);
    t.match(page.body, row.page);
    const json = await svc.app.inject({ url: row.url, remoteAddress: row.remote, headers: { accept: 'application/json' } });
    t.equal(json.statusCode, row.status);
    t.same(json.json(), row.json, `${row.name}: JSON for a program`);
  }
});
