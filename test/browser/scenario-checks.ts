/** What the browser scenarios check and do beside their profile: the application's record, the cookie jar, the identity headers, a sign-out form. */
import type { Test } from 'tap';
import { ALICE } from '../e2e/fixture.js';
import { RENEWAL_COOKIE, SESSION_COOKIE, STEP_MS, type Echoed, type Profile, type ScenarioContext } from './profile.js';

/** The application's answer for a path, as the echo upstream recorded it (never reached → undefined). */
export const reachedApp = (s: ScenarioContext, path: string) => s.stack.echo.records.filter((r) => r.url === path);

export async function cookieJar(s: ScenarioContext, t: Test, p: { context: import('playwright-core').BrowserContext }) {
  const jar = await p.context.cookies();
  t.comment(`cookie jar: ${jar.map((c) => c.name).join(', ') || '(empty)'}`);
  return jar;
}

/** The token cookie's value (the JWT) in the jar. */
export const tokenOf = async (p: Profile) => (await p.context.cookies()).find((c) => c.name === SESSION_COOKIE)?.value;
/** The token and session cookies left in the jar. */
export const sessionCookies = async (p: Profile) => (await p.context.cookies()).filter((c) => c.name === SESSION_COOKIE || c.name === RENEWAL_COOKIE).map((c) => c.name);

/**
 * A sign-out button on the application's page (a plain HTML form, no script in the post), pressed;
 * resolves with the response of the navigation that ends at `endsAt` (default: the POST /logout).
 */
export async function signOutForm(s: ScenarioContext, p: Profile, rd?: string, endsAt?: string) {
  const hidden = rd === undefined ? '' : `<input type="hidden" name="rd" value="${rd}">`;
  await p.page.evaluate(`document.body.innerHTML = '<form method="post" action="/logout">${hidden}<button type="submit">Sign out</button></form>'`);
  const target = endsAt ?? (rd === undefined ? `${s.stack.base}/logout` : rd);
  const out = p.page.waitForResponse((r) => r.url().split('?')[0] === target && r.request().isNavigationRequest(), { timeout: STEP_MS });
  await p.page.getByRole('button', { name: 'Sign out' }).click();
  const res = await out;
  await p.page.waitForLoadState('domcontentloaded', { timeout: STEP_MS });
  return res;
}

export const identity = (t: Test, echoed: Echoed, path: string) => {
  t.equal(echoed.reached, 'upstream', 'the page is the application (the echo upstream)');
  t.equal(echoed.url, path, 'which received the request-target first asked for');
  t.equal(echoed.user, ALICE.nameId, 'X-Auth-Request-User');
  t.equal(echoed.email, ALICE.email, 'X-Auth-Request-Email');
  t.equal(echoed.groups, ALICE.groups.join(','), 'X-Auth-Request-Groups');
};
