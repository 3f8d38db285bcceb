/** End-to-end scenarios of sign-in and access: the SP-initiated login through NGINX, return URLs, the identity headers and the assertion, a forbidden route. */
import t from 'tap';
import { readAuthnRequest } from '../../services/dev-idp/app.js';
import { assertionVerifier } from '../../examples/upstream-verify/server.js';
import { postAcs, ALICE, HOST, IDP_SSO_URL, REDEEM_NETWORK, UPSTREAM_ISSUER } from './fixture.js';
import { cookiePair } from './raw-http.js';
import type { ScenarioKit } from './scenario-kit.js';

export function accessScenarios(kit: ScenarioKit): void {
  const { config, bearer, refused, reached, signinRedirect } = kit;

  t.test('no token → sign-in redirect; the SP-initiated login completes through NGINX and the cookie reaches the app', async (t) => {
    const { stack } = kit;
    const target = '/app/reports?year=2024';
    const res = await refused(t, { target }, `GET ${target} without a token`);
    const signin = signinRedirect(t, res, target, `GET ${target}`);

    const login = await stack.request({ target: signin.slice(stack.base.length) });
    t.equal(login.status, 302, '/saml/login (through NGINX) redirects to the IdP');
    const idp = new URL(login.header('location') ?? 'http://invalid/');
    t.equal(`${idp.origin}${idp.pathname}`, IDP_SSO_URL, 'to the IdP SSO URL');
    t.equal(idp.searchParams.get('RelayState'), `${stack.base}${target}`, 'the return URL travels as RelayState');
    const authn = readAuthnRequest(idp.searchParams.get('SAMLRequest') ?? '');
    const loginState = cookiePair(login.header('set-cookie'));
    t.match(login.header('set-cookie'), /^__Host-saml_login_[\w-]+=[\w-]+; Path=\/; HttpOnly; SameSite=None; Max-Age=\d+; Secure$/, 'the login-state cookie binds the login to this browser');

    // The IdP answers the AuthnRequest; the browser form-posts it through NGINX, with its login state.
    const response = await stack.sign({ inResponseTo: authn.id });
    const form = { relayState: idp.searchParams.get('RelayState')!, accept: 'text/html,application/xhtml+xml', localAddress: REDEEM_NETWORK };
    const csrf = await postAcs(stack.request, response, form);
    t.equal(csrf.status, 401, 'ACS: the same response posted by a browser without the login state (login CSRF) is refused');
    const acs = await postAcs(stack.request, response, { ...form, headers: { cookie: loginState! } });
    t.equal(acs.status, 303, 'ACS: 303 back to the return URL');
    t.equal(acs.header('location'), `${stack.base}${target}`, 'to exactly the URL first asked for');
    const setCookie = acs.headers['set-cookie']?.find((c) => c.startsWith('__Host-saml_authz='));
    t.ok(acs.headers['set-cookie']?.some((c) => c.startsWith(`${loginState!.split('=')[0]}=;`) && /Max-Age=0/.test(c)), 'the login-state cookie is cleared');
    t.match(setCookie, /^__Host-saml_authz=[\w-]+\.[\w-]+\.[\w-]+; /, 'the session cookie is set');
    t.match(setCookie, /HttpOnly/i, 'HttpOnly');

    const { record } = await reached(t, { target, headers: { cookie: cookiePair(setCookie)! } }, `GET ${target} with the cookie`);
    t.equal(record.url, target, 'the application sees the request-target unchanged');
    t.equal(record.user, ALICE.nameId, 'X-Auth-Request-User');
    t.equal(record.email, ALICE.email, 'X-Auth-Request-Email');
    t.equal(record.groups, ALICE.groups.join(','), 'X-Auth-Request-Groups');
    t.equal(record.realIp, '127.0.0.1', 'X-Real-IP is the client');
  });

  t.test('a return URL that needs escaping', async (t) => {
    const { stack } = kit;
    const target = '/app/search?q=a%20b&page=2';
    // ingress-nginx escapes it (set_escape_uri); plain NGINX cannot, so it returns to the path alone.
    const returnTo = config === 'ingress-nginx' ? target : '/app/search';
    const res = await refused(t, { target }, `GET ${target}`);
    const signin = signinRedirect(t, res, target, `GET ${target}`, returnTo);
    const login = await stack.request({ target: signin.slice(stack.base.length) });
    t.equal(login.status, 302, 'the token-service accepts the return URL and starts the login');
    const relay = new URL(login.header('location') ?? 'http://invalid/').searchParams.get('RelayState');
    t.equal(relay, `${stack.base}${returnTo}`, `RelayState: ${returnTo}`);

    if (config === 'auth-request') {
      const bare = await refused(t, { target: '/app/a+b%2Bc' }, 'a path with + and %');
      signinRedirect(t, bare, '/app/a+b%2Bc', 'a path with + and %', '/');
    }
  });

  t.test('the bearer token reaches an allowed route with the identity headers; a client cannot forge them', async (t) => {
    const { stack } = kit;
    const token = await stack.signIn();
    const forgedJwt = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"mallory@example.com"}').toString('base64url')}.`;
    const forged = { 'x-auth-request-user': 'mallory@example.com', 'x-auth-request-email': 'mallory@example.com', 'x-auth-request-groups': 'admins', 'x-auth-request-jwt': forgedJwt };
    const { res, record } = await reached(t, { target: '/app/home', headers: { ...bearer(token), ...forged } }, 'GET /app/home with a bearer token and forged headers');
    t.equal(res.json<{ reached: string }>().reached, 'upstream', 'the echo answered');
    t.equal(record.user, ALICE.nameId, 'X-Auth-Request-User is the token subject, not the forged one');
    t.equal(record.email, ALICE.email, 'X-Auth-Request-Email');
    t.equal(record.groups, 'staff', 'X-Auth-Request-Groups: only the token groups');
    // The upstream verifies the assertion as examples/upstream-verify does, against the authz-service's JWKS.
    t.not(record.jwt, forgedJwt, 'the client\'s X-Auth-Request-Jwt is replaced');
    const verify = assertionVerifier({ jwksUrl: `http://${HOST}:${stack.authz.port}/.well-known/jwks.json`, issuer: UPSTREAM_ISSUER, audience: HOST });
    const claims = await verify(record.jwt);
    t.match(claims, { iss: UPSTREAM_ISSUER, aud: HOST, sub: ALICE.nameId, email: ALICE.email, groups: ['staff'] }, 'X-Auth-Request-Jwt verifies with jose against the authz JWKS (aud: the host without port)');
    t.equal(await assertionVerifier({ jwksUrl: `http://${HOST}:${stack.authz.port}/.well-known/jwks.json`, issuer: UPSTREAM_ISSUER, audience: 'other.example' })(record.jwt), null, 'and not for another audience');

    const body = 'x'.repeat(200_000);
    const post = await reached(t, { method: 'POST', target: '/app/upload', headers: { ...bearer(token), 'content-type': 'text/plain' }, body }, 'POST /app/upload with a 200 kB body');
    t.equal(post.record.method, 'POST', 'method kept');
    t.equal(post.record.bodyBytes, body.length, 'the body reaches the application whole (the auth subrequest had none)');

    const pub = await reached(t, { target: '/docs/intro', headers: forged }, 'GET /docs/intro (public) without a token, forged headers');
    t.equal(pub.record.user, undefined, 'no X-Auth-Request-User reaches the application on a public route');
    t.equal(pub.record.email, undefined, 'no X-Auth-Request-Email');
    t.equal(pub.record.groups, undefined, 'no X-Auth-Request-Groups');
    t.equal(pub.record.jwt, undefined, 'no X-Auth-Request-Jwt: the forged one is removed, a public allow has none');
  });

  t.test('a forbidden route is 403 and the application never sees it', async (t) => {
    const { stack } = kit;
    const token = await stack.signIn();
    for (const [method, target] of [['GET', '/admin/panel'], ['POST', '/admin/users'], ['GET', '/app/secrets/key'], ['DELETE', '/app/secrets/key']] as const) {
      const res = await refused(t, { method, target, headers: bearer(token) }, `${method} ${target} as alice (staff)`);
      t.equal(res.status, 403, `${method} ${target}: 403`);
    }
  });
}
