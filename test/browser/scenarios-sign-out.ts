/** Browser scenarios of sign-out: the forbidden page and its button, the POST /logout form and its rd, the old cookies refused. */
import { ALICE } from '../e2e/fixture.js';
import { RENEWAL_COOKIE, SESSION_COOKIE, STEP_MS, sentCookies, signInAt } from './profile.js';
import { reachedApp, sessionCookies, signOutForm } from './scenario-checks.js';
import type { BrowserScenario } from './scenarios.js';

export const SIGN_OUT_SCENARIOS: readonly BrowserScenario[] = [
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
];
