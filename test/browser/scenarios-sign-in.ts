/** Browser scenarios of sign-in: SP-initiated with the login state, the session cookie as stored, login CSRF, IdP-initiated off and on. */
import { LOGIN_STATE_PREFIX, SESSION_COOKIE, STEP_MS, logged, sentCookies, signInAt, type Echoed } from './profile.js';
import { cookieJar, identity, reachedApp } from './scenario-checks.js';
import type { BrowserScenario } from './scenarios.js';

const JWT_TTL_SECONDS = 900; // the token-service's default lifetime

export const SIGN_IN_SCENARIOS: readonly BrowserScenario[] = [
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
];
