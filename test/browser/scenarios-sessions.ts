/** Browser scenarios of issue 13: silent renewal, idle timeout, SP- and IdP-initiated Single Logout, a transient NameID refused. */
import { inflateRawSync } from 'node:zlib';
import { ALICE } from '../e2e/fixture.js';
import { readAuthnRequest } from '../../services/dev-idp/app.js';
import { FORMATS, IDP_COOKIE } from '../../services/dev-idp/slo.js';
import { RENEWAL_COOKIE, SESSION_COOKIE, STEP_MS, signInAt, type Echoed } from './profile.js';
import { askReplica, claims, database, expireToken, idleSession, refusedAfter } from './sessions.js';
import { identity, reachedApp, sessionCookies, signOutForm, tokenOf } from './scenario-checks.js';
import type { BrowserScenario } from './scenarios.js';

export const SESSION_SCENARIOS: readonly BrowserScenario[] = [
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
