/** End-to-end scenarios of the session: logout refused within a second, renewal of an expired token without the IdP, the forbidden page people see. */
import t, { type Test } from 'tap';
import pg from 'pg';
import { decodeJwt } from 'jose';
import { postAcs, ALICE, REDEEM_NETWORK } from './fixture.js';
import { cookiePair } from './raw-http.js';
import type { ScenarioKit } from './scenario-kit.js';

export function sessionScenarios(kit: ScenarioKit): void {
  const { config, bearer, refused, reached, signinRedirect } = kit;

  t.test('logout through NGINX: the next request is refused within a second', async (t) => {
    const { stack } = kit;
    const token = await stack.signIn();
    const cookie = `__Host-saml_authz=${token}`;
    await reached(t, { target: '/app/before', headers: bearer(token) }, 'bearer before logout');
    await reached(t, { target: '/app/before', headers: { cookie } }, 'cookie before logout (liveness now cached)');

    const logout = await stack.request({ method: 'POST', target: '/logout', headers: { cookie } });
    const loggedOutAt = performance.now();
    t.equal(logout.status, 204, 'POST /logout: 204');
    t.match(logout.header('set-cookie'), /^__Host-saml_authz=;.*Max-Age=0/i, 'the cookie is cleared');

    let elapsed = -1;
    for (;;) {
      const res = await stack.request({ target: '/app/after', headers: bearer(token) });
      if (res.status !== 200) {
        elapsed = performance.now() - loggedOutAt;
        signinRedirect(t, res, '/app/after', 'the revoked bearer token');
        break;
      }
      if (performance.now() - loggedOutAt > 3000) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    t.comment(`${config}: revoked token refused ${elapsed.toFixed(1)} ms after the logout answer`);
    t.ok(elapsed >= 0 && elapsed < 1000, `refused within a second (${elapsed.toFixed(1)} ms)`);
    await refused(t, { target: '/app/after', headers: { cookie } }, 'the revoked cookie');
    await refused(t, { target: '/app/after', headers: bearer(token) }, 'the revoked bearer token, again');
  });

  /** A browser sign-in through NGINX (form post from the IdP): the Cookie header it then sends, and the token. */
  const browserSignIn = async (tt: Test, returnTo: string) => {
    const { stack } = kit;
    const acs = await postAcs(stack.request, await stack.sign(), { relayState: `${stack.base}${returnTo}`, accept: 'text/html,application/xhtml+xml', localAddress: REDEEM_NETWORK });
    tt.equal(acs.status, 303, 'signed in: 303');
    const token = cookiePair(acs.headers['set-cookie']?.find((c) => c.startsWith('__Host-saml_authz=')));
    const session = cookiePair(acs.headers['set-cookie']?.find((c) => c.startsWith('__Host-saml_authz_session=')));
    tt.ok(token && session, 'a token cookie and a session cookie');
    return { token: token!, session: session!, jwt: token!.slice('__Host-saml_authz='.length) };
  };
  const html = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-dest': 'document' };

  t.test('an expired token is renewed through the 401 → /saml/login?rd= redirect with the session cookie, without the IdP', async (t) => {
    const { stack } = kit;
    const target = '/app/renew?n=1';
    const signedIn = await browserSignIn(t, target);
    await reached(t, { target, headers: { cookie: `${signedIn.token}; ${signedIn.session}` } }, 'with the first token');

    // The token's time runs out (its row expires, as time would make it; the database notifies every replica).
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    t.teardown(() => db.end());
    const expired = await db.query(`update issued_tokens set issued_at = now() - interval '16 minutes', expires_at = now() - interval '1 minute' where jti = $1`, [decodeJwt(signedIn.jwt).jti]);
    t.equal(expired.rowCount, 1);
    let signin = '';
    for (const started = performance.now(); performance.now() - started < 3000; await new Promise((r) => setTimeout(r, 20))) {
      const res = await stack.request({ target, headers: { ...html, cookie: `${signedIn.token}; ${signedIn.session}` } });
      if (res.status === 302) {
        signin = signinRedirect(t, res, target, 'the expired token');
        break;
      }
    }
    t.ok(signin, 'the expired token is sent to sign in');

    const renewal = await stack.request({ target: signin.slice(stack.base.length), headers: { ...html, cookie: `${signedIn.token}; ${signedIn.session}` } });
    t.equal(renewal.status, 303, '/saml/login renews: 303');
    t.equal(renewal.header('location'), `${stack.base}${target}`, 'straight back to the page asked for, not to the IdP');
    const fresh = cookiePair(renewal.headers['set-cookie']?.find((c) => c.startsWith('__Host-saml_authz=')));
    t.ok(fresh, 'a token cookie');
    t.not(fresh, signedIn.token, 'a new token cookie');
    const { record } = await reached(t, { target, headers: { ...html, cookie: `${fresh}; ${signedIn.session}` } }, 'with the renewed token');
    t.equal(record.user, ALICE.nameId, 'as alice');
    await refused(t, { target, headers: { cookie: signedIn.token } }, 'the old token, after the renewal');
  });

  t.test('a forbidden route shows people the forbidden page (error_page 403), still a 403; programs get JSON', async (t) => {
    const { stack } = kit;
    const signedIn = await browserSignIn(t, '/app/x');
    const page = await refused(t, { target: '/admin/panel', headers: { ...html, cookie: `${signedIn.token}; ${signedIn.session}` } }, 'GET /admin/panel as alice, a browser');
    t.equal(page.status, 403, 'still 403');
    t.match(page.header('content-type'), /^text\/html; charset=utf-8/, 'a page');
    t.match(page.body, /<h1>Access denied<\/h1>/);
    t.match(page.body, /<dd>alice@example\.com<\/dd>/, 'who is signed in');
    t.match(page.body, /<form method="post" action="\/logout">/, 'a sign-out button');
    t.notMatch(page.body, /admins-only|admin-host|rule/i, 'never rule internals');
    const post = await refused(t, { method: 'POST', target: '/admin/users', headers: { ...html, cookie: signedIn.token } }, 'POST /admin/users as alice, a browser');
    t.equal(post.status, 403, 'a POST too');
    t.match(post.body, /<h1>Access denied<\/h1>/);
    const api = await refused(t, { target: '/admin/panel', headers: { accept: 'application/json', ...bearer(signedIn.jwt) } }, 'GET /admin/panel as alice, a program');
    t.equal(api.status, 403);
    t.same(api.json(), { error: 'forbidden', message: 'you do not have access to this resource' });

    const me = await stack.request({ target: '/userinfo', headers: { cookie: signedIn.token } });
    t.equal(me.status, 200, '/userinfo through NGINX');
    t.match(me.json(), { sub: ALICE.nameId, email: ALICE.email, groups: ALICE.groups });
  });
}
