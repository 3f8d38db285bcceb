/**
 * The browser scenarios, one row each, run in real headless Chromium through each shipped NGINX
 * configuration (suite.ts). A row names the stack variant it needs (VARIANTS: the token-service and
 * authz-service settings it differs by; one stack per variant and configuration, started when first
 * needed). A row with `todo` is what the product does not do yet: it runs as a failing tap `todo`
 * (listed in npm test's summary), never as a silent skip; whoever lands that work writes `run`.
 */
import type { Test } from 'tap';
import { ALICE } from '../e2e/fixture.js';
import { inflateRawSync } from 'node:zlib';
import { readAuthnRequest } from '../../services/dev-idp/app.js';
import { FORMATS, IDP_COOKIE } from '../../services/dev-idp/slo.js';
import { LOGIN_STATE_PREFIX, RENEWAL_COOKIE, SESSION_COOKIE, STEP_MS, logged, sentCookies, signInAt, type Echoed, type Profile, type ScenarioContext } from './profile.js';
import { askReplica, claims, database, expireToken, idleSession, refusedAfter } from './sessions.js';
import { IDP_SCENARIOS } from './several-idps.js';

export interface VariantSettings {
  title: string;
  tokenEnv: Record<string, string>;
  /** SAML Single Logout both ways with the dev IdP (StackOptions.devIdp.slo: the IdP keeps sign-in sessions) */
  slo?: boolean;
  /** a second authz-service replica on the same database, asked directly (StackOptions.secondAuthz) */
  secondAuthz?: boolean;
  /** two IdPs (SAML_IDPS_FILE): a partner clinic's development IdP too (StackOptions.devIdp.partner) */
  partner?: boolean;
}

export const VARIANTS = {
  /** production defaults: IdP-initiated login off, redemption from the browser's network */
  default: { title: 'defaults (SAML_ALLOW_IDP_INITIATED=false)', tokenEnv: { SAML_ALLOW_IDP_INITIATED: 'false' } },
  /** the IdP's tile (an unsolicited response) is accepted */
  'idp-initiated': { title: 'SAML_ALLOW_IDP_INITIATED=true', tokenEnv: { SAML_ALLOW_IDP_INITIATED: 'true' } },
  /** SLO on (SAML_IDP_SLO_URL, SP signing key), the dev IdP with its own sign-in sessions, two authz replicas */
  slo: { title: 'SAML Single Logout on, dev IdP sessions, two authz-service replicas', tokenEnv: { SAML_ALLOW_IDP_INITIATED: 'false' }, slo: true, secondAuthz: true },
  /** SAML_IDPS_FILE with the hospital's IdP and a partner clinic's (several-idps.ts) */
  'several-idps': { title: 'two IdPs (SAML_IDPS_FILE): the hospital\'s and a partner clinic\'s', tokenEnv: { SAML_ALLOW_IDP_INITIATED: 'false' }, partner: true },
} as const satisfies Record<string, VariantSettings>;
export type Variant = keyof typeof VARIANTS;

export interface BrowserScenario {
  name: string;
  variant: Variant;
  /** what must land first; the row then fails loudly as a todo */
  todo?: string;
  /** what the scenario must show (printed by a todo row) */
  shows?: string;
  run?(s: ScenarioContext): Promise<void>;
}

const JWT_TTL_SECONDS = 900; // the token-service's default lifetime

/** The application's answer for a path, as the echo upstream recorded it (never reached → undefined). */
const reachedApp = (s: ScenarioContext, path: string) => s.stack.echo.records.filter((r) => r.url === path);

async function cookieJar(s: ScenarioContext, t: Test, p: { context: import('playwright-core').BrowserContext }) {
  const jar = await p.context.cookies();
  t.comment(`cookie jar: ${jar.map((c) => c.name).join(', ') || '(empty)'}`);
  return jar;
}

/** The token cookie's value (the JWT) in the jar. */
const tokenOf = async (p: Profile) => (await p.context.cookies()).find((c) => c.name === SESSION_COOKIE)?.value;
/** The token and session cookies left in the jar. */
const sessionCookies = async (p: Profile) => (await p.context.cookies()).filter((c) => c.name === SESSION_COOKIE || c.name === RENEWAL_COOKIE).map((c) => c.name);

/**
 * A sign-out button on the application's page (a plain HTML form, no script in the post), pressed;
 * resolves with the response of the navigation that ends at `endsAt` (default: the POST /logout).
 */
async function signOutForm(s: ScenarioContext, p: Profile, rd?: string, endsAt?: string) {
  const hidden = rd === undefined ? '' : `<input type="hidden" name="rd" value="${rd}">`;
  await p.page.evaluate(`document.body.innerHTML = '<form method="post" action="/logout">${hidden}<button type="submit">Sign out</button></form>'`);
  const target = endsAt ?? (rd === undefined ? `${s.stack.base}/logout` : rd);
  const out = p.page.waitForResponse((r) => r.url().split('?')[0] === target && r.request().isNavigationRequest(), { timeout: STEP_MS });
  await p.page.getByRole('button', { name: 'Sign out' }).click();
  const res = await out;
  await p.page.waitForLoadState('domcontentloaded', { timeout: STEP_MS });
  return res;
}

const identity = (t: Test, echoed: Echoed, path: string) => {
  t.equal(echoed.reached, 'upstream', 'the page is the application (the echo upstream)');
  t.equal(echoed.url, path, 'which received the request-target first asked for');
  t.equal(echoed.user, ALICE.nameId, 'X-Auth-Request-User');
  t.equal(echoed.email, ALICE.email, 'X-Auth-Request-Email');
  t.equal(echoed.groups, ALICE.groups.join(','), 'X-Auth-Request-Groups');
};

export const SCENARIOS: readonly BrowserScenario[] = [
  ...IDP_SCENARIOS,
  {
    name: 'SP-initiated sign-in: a protected URL → 302 → /saml/login → dev IdP → cross-site POST /saml/acs with the login-state cookie → 303 back → the application with the identity headers',
    variant: 'default',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      const path = '/app/reports?year=2024';
      stack.echo.clear();
      const { acs, echoed, target } = await signInAt(s, p, path);

      const [first] = await p.net.to(target);
      t.equal(first?.status, 302, 'the protected URL without a token: 302');
      const signin = new URL(first?.location ?? 'http://invalid/');
      t.equal(`${signin.origin}${signin.pathname}`, `${stack.base}/saml/login`, 'to /saml/login');
      t.equal(signin.searchParams.get('rd'), target, 'with the URL to come back to');
      const [login] = await p.net.to(`${stack.base}/saml/login`);
      const idp = new URL(login?.location ?? 'http://invalid/');
      t.equal(`${idp.origin}${idp.pathname}`, `${stack.idpUrl}/sso`, '/saml/login: 302 to the IdP (HTTP-Redirect binding)');
      t.equal(idp.searchParams.get('RelayState'), target, 'RelayState is the return URL');
      t.match(login?.setCookie, new RegExp(`^${LOGIN_STATE_PREFIX}[\\w-]+=[\\w-]+; Path=/; HttpOnly; SameSite=None; Max-Age=\\d+; Secure$`), 'and the login-state cookie');

      t.equal(acs.method, 'POST', 'the IdP page posts the response');
      t.equal(acs.sent['sec-fetch-site'], 'cross-site', 'from another site (Sec-Fetch-Site: cross-site)');
      t.equal(acs.sent.origin, stack.idpUrl, 'Origin: the IdP');
      const sent = [...sentCookies(acs).keys()];
      t.equal(sent.filter((n) => n.startsWith(LOGIN_STATE_PREFIX)).length, 1, `Chromium sent the SameSite=None login-state cookie on the cross-site POST (${sent.join(', ')})`);
      t.equal(acs.status, 303, 'ACS: 303');
      t.equal(acs.location, target, 'back to exactly the URL first asked for');

      identity(t, echoed, path);
      t.equal(reachedApp(s, path).length, 1, 'the application served it once: never before sign-in');
      const jar = await cookieJar(s, t, p);
      t.same(jar.filter((c) => c.name.startsWith(LOGIN_STATE_PREFIX)), [], 'the login-state cookie is gone from the jar (cleared by the ACS)');
    },
  },
  {
    name: 'the session cookie as Chromium stored it: __Host- name, host-only, Path=/, HttpOnly, Secure, SameSite=Lax, expiring with the token, invisible to scripts',
    variant: 'default',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      const signedInAt = Date.now() / 1000;
      await signInAt(s, p, '/app/home');
      const jar = await cookieJar(s, t, p);
      const session = jar.filter((c) => c.name === SESSION_COOKIE);
      t.equal(session.length, 1, `one ${SESSION_COOKIE} cookie`);
      const c = session[0]!;
      t.same(
        { domain: c.domain, path: c.path, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite },
        { domain: new URL(stack.base).hostname, path: '/', httpOnly: true, secure: true, sameSite: 'Lax' },
        'host-only (no Domain), Path=/, HttpOnly, Secure, SameSite=Lax',
      );
      t.ok(c.expires > signedInAt + JWT_TTL_SECONDS - 60 && c.expires < signedInAt + JWT_TTL_SECONDS + 60, `expires with the token (${Math.round(c.expires - signedInAt)} s)`);
      t.notMatch(await p.page.evaluate<string>('document.cookie'), SESSION_COOKIE, 'document.cookie does not show it');
    },
  },
  {
    name: 'login CSRF: a response for a login another browser started, auto-posted from another site, is refused (401, login_state_mismatch) and signs the victim in as nobody',
    variant: 'default',
    async run(s) {
      const { t, stack } = s;
      // The attacker starts a sign-in in their own browser, signs in at the IdP as themselves and keeps
      // the signed response instead of posting it.
      const attacker = await s.profile();
      await attacker.context.route(`${stack.base}/saml/acs`, (route) => route.abort());
      await attacker.page.goto(`${stack.base}/saml/login?rd=${encodeURIComponent(`${stack.base}/app/home`)}`, { timeout: STEP_MS });
      await attacker.page.fill('input[name=nameId]', 'mallory@example.com');
      await attacker.page.fill('input[name=email]', 'mallory@example.com');
      const kept = attacker.page.waitForRequest(`${stack.base}/saml/acs`, { timeout: STEP_MS });
      await attacker.page.getByRole('button', { name: 'Sign in' }).click();
      const form = new URLSearchParams((await kept).postData() ?? '');
      t.ok(form.get('SAMLResponse'), "the attacker holds a signed response answering their own browser's request");

      // The victim visits the attacker's page, which posts it to the ACS.
      const victim = await s.profile();
      const page = await s.attackerSite(`${stack.base}/saml/acs`, form.get('SAMLResponse')!, form.get('RelayState'));
      const from = stack.token.logs.length;
      const answered = victim.page.waitForResponse(`${stack.base}/saml/acs`, { timeout: STEP_MS });
      await victim.page.goto(page, { timeout: STEP_MS });
      const res = await answered;
      const [post] = await victim.net.to(`${stack.base}/saml/acs`);
      t.equal(post?.sent['sec-fetch-site'], 'cross-site', 'a cross-site form post, as the IdP would make');
      t.equal(res.status(), 401, 'ACS: 401');
      t.ok(await logged(stack.token, /"reason":"login_state_mismatch"/, from), 'refused because this browser did not start that login');
      const jar = await cookieJar(s, t, victim);
      t.same(jar.filter((c) => c.name === SESSION_COOKIE), [], 'no session cookie in the victim’s browser');
      stack.echo.clear();
      await victim.page.goto(`${stack.base}/app/home`, { timeout: STEP_MS });
      t.equal(new URL(victim.page.url()).origin, stack.idpUrl, 'the victim is not signed in: the application sends them to the IdP');
      t.same(reachedApp(s, '/app/home'), [], 'and the application never saw a request as mallory');
    },
  },
  {
    name: 'IdP-initiated sign-in is refused by default: the dev IdP tile’s response gets 401 and no cookie',
    variant: 'default',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      const from = stack.token.logs.length;
      const answered = p.page.waitForResponse(`${stack.base}/saml/acs`, { timeout: STEP_MS });
      await p.page.goto(`${stack.idpUrl}/idp-initiated?RelayState=${encodeURIComponent(`${stack.base}/app/home`)}`, { timeout: STEP_MS });
      t.equal((await answered).status(), 401, 'ACS: 401 (an unsolicited response)');
      t.ok(await logged(stack.token, /"reason":"unsolicited_response"/, from), 'reason: unsolicited_response');
      t.same((await cookieJar(s, t, p)).filter((c) => c.name === SESSION_COOKIE), [], 'no session cookie');
    },
  },
  {
    name: 'a forbidden route: signed in, a route the rules do not grant is 403 with the forbidden page (error_page 403): who is signed in, a sign-out button that works, no rule internals; the application never sees it',
    variant: 'default',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      await signInAt(s, p, '/app/home');
      stack.echo.clear();
      for (const path of ['/admin/panel', '/app/secrets/key']) {
        const res = await p.page.goto(`${stack.base}${path}`, { timeout: STEP_MS });
        t.equal(res?.status(), 403, `${path}: 403`);
        t.equal(p.page.url(), `${stack.base}${path}`, `${path}: no redirect (signed in, not allowed)`);
        t.match(res?.headers()['content-type'], /^text\/html/, `${path}: a page`);
        t.equal(await p.page.locator('h1').textContent(), 'Access denied', `${path}: "Access denied"`);
        t.match(await p.page.locator('body').innerText(), ALICE.nameId, `${path}: says who is signed in`);
        t.notMatch(await p.page.content(), /admins-only|secrets-never|staff-app|\brule\b/i, `${path}: no rule id, no rule internals`);
      }
      t.same(stack.echo.records, [], 'the application saw neither');

      const out = p.page.waitForResponse((r) => r.url() === `${stack.base}/logout` && r.request().method() === 'POST', { timeout: STEP_MS });
      await p.page.getByRole('button', { name: 'Sign out' }).click();
      t.equal((await out).status(), 200, "the page's Sign out button: POST /logout → 200");
      await p.page.waitForLoadState('domcontentloaded', { timeout: STEP_MS });
      t.equal(await p.page.locator('h1').textContent(), 'Signed out', 'the "Signed out" page');
      t.same(await sessionCookies(p), [], 'both cookies are gone from the jar');
    },
  },
  {
    name: 'sign-out: a POST /logout form lands on the "Signed out" page (or the allowed rd), never a bare 204; both cookies cleared in the jar; the old cookie put back is refused',
    variant: 'default',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      await signInAt(s, p, '/app/home');
      const before = (await p.context.cookies()).filter((c) => c.name === SESSION_COOKIE || c.name === RENEWAL_COOKIE);
      t.equal(before.length, 2, `signed in: ${SESSION_COOKIE} and ${RENEWAL_COOKIE}`);
      const res = await signOutForm(s, p);
      t.equal(res.status(), 200, 'POST /logout: 200, a page');
      t.match(res.headers()['content-type'], /^text\/html/, 'HTML');
      t.equal(await p.page.locator('h1').textContent(), 'Signed out', 'the "Signed out" page');
      t.equal(p.page.url(), `${stack.base}/logout`, 'the browser is on it');
      const [post] = await p.net.to(`${stack.base}/logout`);
      t.ok(sentCookies(post!).has(SESSION_COOKIE), 'the form post carried the token cookie (SameSite=Lax, same site)');
      t.same(await sessionCookies(p), [], 'both cookies are cleared in the jar');

      await p.context.addCookies(before.map((c) => ({ ...c, sameSite: 'Lax' as const })));
      stack.echo.clear();
      p.net.clear();
      await p.page.goto(`${stack.base}/app/home`, { timeout: STEP_MS });
      const [again] = await p.net.to(`${stack.base}/app/home`);
      t.ok(sentCookies(again!).has(SESSION_COOKIE) && sentCookies(again!).has(RENEWAL_COOKIE), 'both old cookies, put back, are sent');
      t.equal(`${new URL(p.page.url()).origin}${new URL(p.page.url()).pathname}`, `${stack.idpUrl}/sso`, 'and refused, token and session alike: the browser is at the IdP to sign in again');
      t.same(reachedApp(s, '/app/home'), [], 'the application never saw it');

      // With an allowed rd, sign-out lands there.
      await signInAt(s, p, '/app/home');
      stack.echo.clear();
      const toRd = await signOutForm(s, p, `${stack.base}/`);
      t.equal(toRd.status(), 200, 'POST /logout with rd=<allowed>: the browser lands on rd');
      t.equal(p.page.url(), `${stack.base}/`, 'on exactly rd');
      const [withRd] = await p.net.to(`${stack.base}/logout`).then((x) => x.slice(-1));
      t.equal(withRd?.status, 303, 'by a 303');
      t.equal(reachedApp(s, '/').length, 1, 'the public page the application serves');
      t.same(await sessionCookies(p), [], 'both cookies cleared');
    },
  },
  {
    name: 'IdP-initiated sign-in: the dev IdP tile posts an unsolicited response, 303 to the RelayState page with the identity headers',
    variant: 'idp-initiated',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      const target = `${stack.base}/app/home`;
      const landed = p.page.waitForResponse((r) => r.url() === target && r.request().isNavigationRequest(), { timeout: STEP_MS });
      await p.page.goto(`${stack.idpUrl}/idp-initiated?RelayState=${encodeURIComponent(target)}`, { timeout: STEP_MS });
      const res = await landed;
      const [acs] = await p.net.to(`${stack.base}/saml/acs`);
      t.equal(acs?.status, 303, 'ACS: 303');
      t.equal(acs?.location, target, 'to the RelayState');
      t.same(await p.net.to(`${stack.base}/saml/login`), [], 'no AuthnRequest was involved');
      identity(t, (await res.json()) as Echoed, '/app/home');
    },
  },
  {
    name: 'the residual risk of SAML_ALLOW_IDP_INITIATED=true: an unsolicited response auto-posted from another site signs the victim in as the attacker (why the default is off)',
    variant: 'idp-initiated',
    async run(s) {
      const { t, stack } = s;
      // The attacker takes a response from the IdP's tile for themselves and keeps it.
      const attacker = await s.profile();
      await attacker.context.route(`${stack.base}/saml/acs`, (route) => route.abort());
      const kept = attacker.page.waitForRequest(`${stack.base}/saml/acs`, { timeout: STEP_MS });
      const target = `${stack.base}/app/home`;
      await attacker.page.goto(`${stack.idpUrl}/idp-initiated?user=mallory@example.com&email=mallory@example.com&groups=staff&RelayState=${encodeURIComponent(target)}`, { timeout: STEP_MS }).catch(() => undefined);
      const form = new URLSearchParams((await kept).postData() ?? '');

      const victim = await s.profile();
      const landed = victim.page.waitForResponse((r) => r.url() === target && r.request().isNavigationRequest(), { timeout: STEP_MS });
      await victim.page.goto(await s.attackerSite(`${stack.base}/saml/acs`, form.get('SAMLResponse')!, form.get('RelayState')), { timeout: STEP_MS });
      const echoed = (await (await landed).json()) as Echoed;
      t.equal(echoed.user, 'mallory@example.com', "the victim's browser is signed in as the attacker: no login state can bind a response nobody asked for");
      t.ok((await victim.context.cookies()).some((c) => c.name === SESSION_COOKIE), 'with a session cookie in the victim’s jar');
    },
  },
  // Issue 13: sessions, sign-out pages, Single Logout, stable identity.
  {
    name: 'silent renewal: after the token expires, the next page load gets a new token through /saml/login without contacting the IdP; the old token is refused',
    variant: 'default',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      await signInAt(s, p, '/app/home');
      const first = await tokenOf(p);
      const renewal = (await p.context.cookies()).find((c) => c.name === RENEWAL_COOKIE)?.value;
      t.ok(first && renewal, 'signed in: a token cookie and a session cookie');
      const db = await database(t, stack);
      t.equal(await expireToken(db, claims(first!).jti), 1, "the token's time runs out (its row aged in Postgres)");
      await refusedAfter(stack, stack.authz, first!, performance.now());

      p.net.clear();
      stack.echo.clear();
      const idpBefore = stack.idpRequests.length;
      const res = await p.page.goto(`${stack.base}/app/home`, { timeout: STEP_MS });
      t.equal(res?.status(), 200, 'the next page load: 200');
      identity(t, (await res!.json()) as Echoed, '/app/home');
      const hops = (await p.net.settled()).filter((e) => !e.url.endsWith('/favicon.ico')).map((e) => `${e.method} ${new URL(e.url).origin === stack.base ? new URL(e.url).pathname : e.url} ${e.status}`);
      t.comment(`network: ${hops.join(' → ')}`);
      t.same(hops, ['GET /app/home 302', 'GET /saml/login 303', 'GET /app/home 200'], 'the page → 302 /saml/login → 303 back → the page');
      t.same((await p.net.settled()).filter((e) => e.url.startsWith(stack.idpUrl!)), [], 'the browser sent nothing to the IdP');
      t.same(stack.idpRequests.slice(idpBefore), [], 'and the IdP received nothing');
      const second = await tokenOf(p);
      t.ok(second, 'the jar holds a token');
      t.not(second, first, 'the jar holds a new token');
      t.equal(claims(second!).sid, claims(first!).sid, 'of the same session');
      t.equal((await p.context.cookies()).find((c) => c.name === RENEWAL_COOKIE)?.value, renewal, 'the session cookie is unchanged');
      // The renewal revokes the session's older *live* tokens (docs/sessions.md); this one stays past its expiry.
      const old = await db.query('select expires_at < now() as past from issued_tokens where jti = $1', [claims(first!).jti]);
      t.equal(old.rows[0]?.past, true, 'the old token was not revived by the renewal');
      t.equal(await askReplica(stack, stack.authz, first!), 401, 'the old token is refused by the authz-service afterwards');
      t.equal(await askReplica(stack, stack.authz, second!), 200, 'the new one is allowed');
    },
  },
  {
    name: 'idle timeout: past SESSION_IDLE_TIMEOUT_SECONDS, the next page load shows "Session expired"; following it reaches the IdP with ForceAuthn="true" and the IdP asks again although it still has a session',
    variant: 'slo',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      await signInAt(s, p, '/app/home');
      t.ok((await p.context.cookies(stack.idpUrl)).some((c) => c.name === IDP_COOKIE), 'the dev IdP keeps its own sign-in session (its cookie in the jar)');
      const token = (await tokenOf(p))!;
      const db = await database(t, stack);
      t.equal(await idleSession(db, claims(token).sid), 1, 'the session has been idle past its deadline (aged in Postgres)');
      t.equal(await expireToken(db, claims(token).jti), 1, 'and its token has expired (activity is seen at renewal)');
      await refusedAfter(stack, stack.authz, token, performance.now());

      stack.echo.clear();
      const res = await p.page.goto(`${stack.base}/app/home`, { timeout: STEP_MS });
      t.equal(res?.status(), 200, 'the next page load ends on a page (200)');
      t.equal(p.page.url().startsWith(`${stack.base}/saml/login?`), true, 'served by /saml/login');
      t.equal(await p.page.locator('h1').textContent(), 'Session expired', 'the "Session expired" page');
      t.same(await sessionCookies(p), [], 'both cookies cleared');
      t.same(reachedApp(s, '/app/home'), [], 'the application was not reached');
      const ended = await db.query('select end_reason from sessions where sid = $1', [claims(token).sid]);
      t.equal(ended.rows[0]?.end_reason, 'idle', 'the session ended as idle');

      p.net.clear();
      await p.page.getByRole('link', { name: 'Sign in again' }).click();
      await p.page.waitForURL((u) => u.origin === stack.idpUrl, { timeout: STEP_MS });
      const [sso] = await p.net.to(`${stack.idpUrl}/sso`);
      const authn = readAuthnRequest(new URL(sso!.url).searchParams.get('SAMLRequest')!);
      t.equal(authn.forceAuthn, true, 'the AuthnRequest carries ForceAuthn="true"');
      t.match(sso!.sent.cookie ?? '', new RegExp(`${IDP_COOKIE}=`), 'the browser still presented its IdP session');
      t.equal(sso!.status, 200, 'the IdP answers with a page');
      if (!t.equal(await p.page.locator('input[name=nameId]').count(), 1, 'its sign-in form: it asks again instead of answering from its session')) return;
      const back = p.page.waitForResponse((r) => r.url() === `${stack.base}/app/home` && r.request().isNavigationRequest(), { timeout: STEP_MS });
      await p.page.getByRole('button', { name: 'Sign in' }).click();
      identity(t, (await (await back).json()) as Echoed, '/app/home');
    },
  },
  {
    name: 'SP-initiated Single Logout: sign-out continues at the IdP with a signed LogoutRequest, comes back with the LogoutResponse to the "Signed out" page; the next visit asks for the password',
    variant: 'slo',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      await signInAt(s, p, '/app/home');
      const token = (await tokenOf(p))!;
      p.net.clear();
      const res = await signOutForm(s, p, undefined, `${stack.base}/saml/slo`);
      t.equal(res.status(), 200, 'the sign-out ends on a page (200)');
      t.equal(await p.page.locator('h1').textContent(), 'Signed out', 'the "Signed out" page');
      const hops = await p.net.settled();
      t.comment(`network: ${hops.map((e) => `${e.method} ${new URL(e.url).origin}${new URL(e.url).pathname} ${e.status}`).join(' → ')}`);
      const [logout, atIdp, back] = hops;
      t.equal(`${logout?.method} ${logout?.url} ${logout?.status}`, `POST ${stack.base}/logout 303`, 'POST /logout: 303');
      const req = new URL(atIdp?.url ?? 'http://invalid/');
      t.equal(`${req.origin}${req.pathname}`, `${stack.idpUrl}/slo`, "to the IdP's SLO endpoint");
      t.ok(req.searchParams.get('SigAlg') && req.searchParams.get('Signature'), 'with a signed (HTTP-Redirect) SAMLRequest');
      const xml = inflateRawSync(Buffer.from(req.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
      t.match(xml, /<samlp?:LogoutRequest\b/, 'a LogoutRequest');
      t.match(xml, `>${ALICE.nameId}</`, 'for alice');
      t.match(xml, /SessionIndex>_[0-9a-f]+</, 'with her SessionIndex at the IdP');
      t.equal(atIdp?.status, 302, 'the IdP verified it and answers');
      t.ok(atIdp?.location?.startsWith(`${stack.base}/saml/slo?SAMLResponse=`), 'with a LogoutResponse to /saml/slo');
      t.equal(`${back?.method} ${back?.url.split('?')[0]} ${back?.status}`, `GET ${stack.base}/saml/slo 200`, 'which the token-service accepts: the page');
      t.same(await sessionCookies(p), [], 'both cookies cleared');
      t.same((await p.context.cookies(stack.idpUrl)).filter((c) => c.name === IDP_COOKIE), [], "the IdP's session cookie is cleared too");
      t.ok((await refusedAfter(stack, stack.authz, token, performance.now(), 1000)) < 1000, 'the token is refused');

      stack.echo.clear();
      await p.page.goto(`${stack.base}/app/home`, { timeout: STEP_MS });
      t.equal(`${new URL(p.page.url()).origin}${new URL(p.page.url()).pathname}`, `${stack.idpUrl}/sso`, 'the next visit goes to the IdP');
      t.equal(await p.page.locator('input[name=nameId]').count(), 1, 'which asks again (its session ended): no single sign-on');
      t.same(reachedApp(s, '/app/home'), [], 'the application was not reached');
    },
  },
  {
    name: 'IdP-initiated Single Logout: the IdP sends a signed LogoutRequest through the browser; both authz-service replicas refuse the token within a second',
    variant: 'slo',
    async run(s) {
      const { t, stack } = s;
      t.equal(stack.authzReplicas.length, 2, 'two authz-service replicas on one database');
      const p = await s.profile();
      await signInAt(s, p, '/app/home');
      const token = (await tokenOf(p))!;
      for (const [i, r] of stack.authzReplicas.entries()) t.equal(await askReplica(stack, r, token), 200, `replica ${i + 1} allows the token`);

      p.net.clear();
      const answered = p.page.waitForResponse((r) => r.url().startsWith(`${stack.base}/saml/slo?`), { timeout: STEP_MS });
      const done = p.page.goto(`${stack.idpUrl}/dev/logout-all?nameId=${encodeURIComponent(ALICE.nameId)}`, { timeout: STEP_MS });
      const slo = await answered;
      const at = performance.now();
      const elapsed = await Promise.all(stack.authzReplicas.map((r) => refusedAfter(stack, r, token, at)));
      t.comment(`refused ${elapsed.map((ms, i) => `by replica ${i + 1} ${ms.toFixed(1)} ms`).join(', ')} after /saml/slo answered`);
      for (const [i, ms] of elapsed.entries()) t.ok(ms < 1000, `replica ${i + 1} refuses within a second (${ms.toFixed(1)} ms)`);
      t.equal(slo.status(), 302, "/saml/slo accepted the IdP's LogoutRequest: 302 back to the IdP");
      const sent = new URL(slo.url());
      t.ok(sent.searchParams.get('SAMLRequest') && sent.searchParams.get('Signature'), 'a signed HTTP-Redirect LogoutRequest');
      t.ok(slo.headers().location?.startsWith(`${stack.idpUrl}/slo?SAMLResponse=`), 'answered with a LogoutResponse');
      await done;
      t.equal(await p.page.locator('h1').textContent(), 'Signed out', "the IdP's page: signed out");
      t.same((await p.context.cookies()).filter((c) => c.name === SESSION_COOKIE), [], 'the token cookie is cleared in the jar');
      stack.echo.clear();
      await p.page.goto(`${stack.base}/app/home`, { timeout: STEP_MS });
      t.equal(await p.page.locator('input[name=nameId]').count(), 1, 'the next visit: the IdP asks again');
      t.same(reachedApp(s, '/app/home'), [], 'the application was not reached');
    },
  },
  {
    name: 'a transient NameID is refused with a page that says what to change at the IdP; no cookie',
    variant: 'default',
    async run(s) {
      const { t, stack } = s;
      const p = await s.profile();
      stack.echo.clear();
      await p.page.goto(`${stack.base}/app/home`, { timeout: STEP_MS });
      // The IdP left at its default: the dev IdP's form sends a transient NameID whatever was asked.
      await p.page.locator('input[name=nameIdFormat]').evaluate((e, v) => ((e as unknown as { value: string }).value = v), FORMATS.transient);
      const posted = p.page.waitForRequest(`${stack.base}/saml/acs`, { timeout: STEP_MS });
      const answered = p.page.waitForResponse(`${stack.base}/saml/acs`, { timeout: STEP_MS });
      await p.page.getByRole('button', { name: 'Sign in' }).click();
      const xml = Buffer.from(new URLSearchParams((await posted).postData() ?? '').get('SAMLResponse') ?? '', 'base64').toString('utf8');
      t.match(xml, `Format="${FORMATS.transient}">_`, 'the IdP sent a transient NameID');
      const res = await answered;
      t.equal(res.status(), 403, 'ACS: 403');
      t.match(res.headers()['content-type'], /^text\/html/, 'a page');
      await p.page.waitForLoadState('domcontentloaded', { timeout: STEP_MS });
      const text = await p.page.locator('body').innerText();
      t.match(text, /NameID format/, 'it says what to change at the IdP: the NameID format');
      t.match(text, /not transient/, 'not transient');
      t.match(text, /transient_name_id/, 'with the reason to quote');
      t.same(await sessionCookies(p), [], 'no cookie');
      t.same(reachedApp(s, '/app/home'), [], 'the application was not reached');
    },
  },
];
