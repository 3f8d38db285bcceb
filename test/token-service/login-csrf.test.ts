import t from 'tap';
import { createHash } from 'node:crypto';
import { withDb } from '../helpers/db.js';
import { buildTokenService, envIdp, postAcs, RETURN_BASE, type TokenFixture } from '../helpers/token-service.js';
import { readAuthnRequest } from '../../services/dev-idp/app.js';
import { saveRequestId } from '../../services/token-service/store/saml.js';

const HTML = 'text/html,application/xhtml+xml';
const STATE_COOKIE = /^(__Host-saml_login_[A-Za-z0-9_-]{16})=([A-Za-z0-9_-]{43}); Path=\/; HttpOnly; SameSite=None; Max-Age=300; Secure$/;

/** A browser's GET /saml/login: the request id the IdP will answer and the state cookie it was given. */
async function startLogin(svc: TokenFixture, remote = '198.51.100.7') {
  const res = await svc.app.inject({ url: `/saml/login?rd=${encodeURIComponent(`${RETURN_BASE}x`)}`, remoteAddress: remote });
  if (res.statusCode !== 302) throw new Error(`login: ${res.statusCode} ${res.body}`);
  const setCookie = String(res.headers['set-cookie']);
  const m = STATE_COOKIE.exec(setCookie);
  if (!m) throw new Error(`unexpected state cookie: ${setCookie}`);
  const requestId = readAuthnRequest(new URL(String(res.headers.location)).searchParams.get('SAMLRequest') ?? '').id;
  return { setCookie, name: m[1]!, nonce: m[2]!, pair: `${m[1]}=${m[2]}`, requestId };
}

const setCookies = (res: { headers: Record<string, unknown> }): string[] => [res.headers['set-cookie'] ?? []].flat().map(String);
const sessionCookie = (res: { headers: Record<string, unknown> }) => setCookies(res).find((c) => c.startsWith('__Host-saml_authz='));
const outstanding = async (db: Awaited<ReturnType<typeof withDb>>, id: string) =>
  (await db.kysely.selectFrom('saml_requests').select('request_id').where('request_id', '=', id).execute()).length === 1;
const tokenRows = async (db: Awaited<ReturnType<typeof withDb>>) => (await db.kysely.selectFrom('issued_tokens').select('jti').execute()).length;

t.test('a browser finishes its own SP-initiated login: state cookie in; session cookie, 303 and the state cleared out', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_IDP_INITIATED: 'false' } });
  const login = await startLogin(svc);
  t.match(login.setCookie, STATE_COOKIE, '__Host-, SameSite=None, Secure, HttpOnly, Path=/, as long as the request id');
  const row = await db.kysely.selectFrom('saml_requests').selectAll().executeTakeFirstOrThrow();
  t.equal(row.request_id, login.requestId);
  t.same(row.state_hash, createHash('sha256').update(login.nonce).digest(), 'Postgres keeps only the hash of the nonce');
  t.equal(row.client_network, '198.51.100.7');

  const { samlResponse } = await svc.sign({ inResponseTo: login.requestId });
  const res = await postAcs(svc.app, samlResponse, { accept: HTML, relayState: `${RETURN_BASE}x`, headers: { cookie: `a=1; ${login.pair}` } });
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, `${RETURN_BASE}x`);
  t.match(sessionCookie(res), /^__Host-saml_authz=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=900; Secure$/);
  t.ok(setCookies(res).includes(`${login.name}=; Path=/; HttpOnly; SameSite=None; Max-Age=0; Secure`), 'the state cookie is cleared');
  t.notOk(await outstanding(db, login.requestId), 'the request id is spent');
  t.equal(await tokenRows(db), 1);
  t.notOk(svc.logs.raw.some((l) => l.includes(login.nonce)), 'the state nonce is never logged');
});

t.test('login CSRF: a response to the attacker\'s request, posted by the victim\'s browser, signs no one in', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_IDP_INITIATED: 'false', RATE_LIMIT_MAX: '1000' } });
  const attacker = await startLogin(svc, '203.0.113.66');
  const victimOwn = await startLogin(svc, '198.51.100.7');
  const { samlResponse } = await svc.sign({ inResponseTo: attacker.requestId, nameId: 'mallory@example.com', email: 'mallory@example.com' });
  const rows: { name: string; cookie?: string }[] = [
    { name: 'no state cookie at all' },
    { name: 'the state cookie of the victim\'s own login', cookie: victimOwn.pair },
    { name: 'a cookie of the right name with another nonce (tossed or guessed)', cookie: `${attacker.name}=${'A'.repeat(43)}` },
    { name: 'the right state twice with a wrong one (cannot be read one way only)', cookie: `${attacker.name}=${'B'.repeat(43)}; ${attacker.pair}` },
    { name: 'an empty state cookie', cookie: `${attacker.name}=` },
    { name: 'the right nonce under another request\'s cookie name', cookie: `${victimOwn.name}=${attacker.nonce}` },
  ];
  for (const row of rows) {
    const res = await postAcs(svc.app, samlResponse, { accept: HTML, relayState: `${RETURN_BASE}x`, ...(row.cookie ? { headers: { cookie: row.cookie } } : {}) });
    t.equal(res.statusCode, 401, `${row.name}: 401`);
    t.equal(res.headers['content-type'], 'text/html; charset=utf-8', `${row.name}: a page for the browser`);
    t.match(res.body, /<h1>Sign-in not completed<\/h1>/, `${row.name}: saying what happened`);
    t.ok(res.body.includes(`<code>${String(svc.logs.find((l) => l.event === 'saml_refused').at(-1)?.request_id)}</code>`), `${row.name}: with the reference to quote`);
    t.notMatch(res.body, /login_state_mismatch/, `${row.name}: never the reason`);
    t.equal(sessionCookie(res), undefined, `${row.name}: no session cookie`);
    t.equal(res.headers.location, undefined, `${row.name}: no redirect`);
    t.ok(await outstanding(db, attacker.requestId), `${row.name}: nothing was spent`);
  }
  t.equal(await tokenRows(db), 0, 'no token row');
  t.equal(svc.logs.find((l) => l.event === 'saml_refused' && l.reason === 'login_state_mismatch').length, rows.length, 'each audited as login_state_mismatch');
  t.match(await svc.app.metrics.getSingleMetricAsString('saml_rejected_total'), new RegExp(`saml_rejected_total\\{reason="login_state_mismatch"\\} ${rows.length}`));

  // Control: the browser that started the login is signed in by the very same response.
  const own = await postAcs(svc.app, samlResponse, { accept: HTML, relayState: `${RETURN_BASE}x`, headers: { cookie: attacker.pair } });
  t.equal(own.statusCode, 303, 'the starting browser, with its state, is signed in');
  t.ok(sessionCookie(own));
});

t.test('several tabs sign in at once: each login has its own state cookie, in any order', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_IDP_INITIATED: 'false' } });
  const tabs = [await startLogin(svc), await startLogin(svc), await startLogin(svc)];
  t.equal(new Set(tabs.map((l) => l.name)).size, 3, 'one cookie name per request id');
  const jar = tabs.map((l) => l.pair).join('; ');
  for (const tab of [...tabs].reverse()) {
    const { samlResponse } = await svc.sign({ inResponseTo: tab.requestId });
    const res = await postAcs(svc.app, samlResponse, { accept: HTML, relayState: `${RETURN_BASE}x`, headers: { cookie: jar } });
    t.equal(res.statusCode, 303, `tab ${tab.requestId.slice(0, 8)}: signed in`);
  }
  t.equal(await tokenRows(db), 3);
});

t.test('JSON clients need no login state (no cookie is set in anyone\'s browser); a request id from before the upgrade finishes JSON only', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_IDP_INITIATED: 'false' } });
  const login = await startLogin(svc);
  const json = await postAcs(svc.app, (await svc.sign({ inResponseTo: login.requestId })).samlResponse);
  t.equal(json.statusCode, 200);
  t.equal(sessionCookie(json), undefined, 'no session cookie');
  t.match(json.json(), { token_type: 'Bearer' });
  t.notOk(await outstanding(db, login.requestId), 'spent');

  await saveRequestId(db.kysely, '_legacy1', new Date(Date.now() + 60_000));
  const browser = await postAcs(svc.app, (await svc.sign({ inResponseTo: '_legacy1' })).samlResponse, { accept: HTML, headers: { cookie: `${login.name}=x` } });
  t.equal(browser.statusCode, 401, 'a browser cannot finish an unbound request');
  t.equal((await postAcs(svc.app, (await svc.sign({ inResponseTo: '_legacy1' })).samlResponse)).statusCode, 200, 'a JSON client can');
});

t.test('IdP-initiated (unsolicited) login is off unless SAML_ALLOW_IDP_INITIATED=true', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_IDP_INITIATED: '' } });
  t.equal(envIdp(svc.config).allowIdpInitiated, false, 'the default is off');
  const res = await postAcs(svc.app, (await svc.sign()).samlResponse, { accept: HTML, relayState: `${RETURN_BASE}x` });
  t.equal(res.statusCode, 401);
  t.equal(sessionCookie(res), undefined);
  t.equal(svc.logs.find((l) => l.event === 'saml_refused' && l.reason === 'unsolicited_response').length, 1);
  const on = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_IDP_INITIATED: 'true' } });
  t.equal((await postAcs(on.app, (await on.sign()).samlResponse, { accept: HTML, relayState: `${RETURN_BASE}x` })).statusCode, 303, 'opted in: the tile works (and cannot be bound)');
});
