/**
 * The end-to-end scenarios, run once per shipped NGINX configuration (auth-request.test.ts,
 * ingress-nginx.test.ts): one stack per file, started in t.before, stopped in teardown. Every
 * "never reaches the application" claim is checked on the echo upstream's record.
 */
import t, { type Test } from 'tap';
import pg from 'pg';
import { decodeJwt } from 'jose';
import { readAuthnRequest } from '../../services/dev-idp/app.js';
import { startStack, postAcs, ADMIN_HOST, ALICE, HOST, IDP_SSO_URL, REDEEM_NETWORK, UPSTREAM_ISSUER, type Stack } from './fixture.js';
import { assertionVerifier } from '../../examples/upstream-verify/server.js';
import { directiveLines, locations, probePath, type Location } from './locations.js';
import { findModules, findNginx, nginxVersion, SET_MISC_MODULES, type ConfigName } from './nginx.js';
import { cookiePair, type RawRequest, type RawResponse } from './raw-http.js';
import { openedBetween, socketsOnPort } from './sockets.js';
import { fill, HOST_TRICKS, METHOD_TRICKS, TRICKS, type RequestTrick } from './tricks.js';


/** What each configuration is expected to contain: checked against the parsed file, then probed. */
const EXPECTED: Record<ConfigName, { protectedPaths: string[]; open: string[]; authLocation: string; authHeaders: string[] }> = {
  'auth-request': {
    protectedPaths: ['/'],
    open: ['/saml/', '= /logout', '= /userinfo'],
    authLocation: '/_saml_authz',
    authHeaders: ['Host $host', 'X-Original-URI $request_uri', 'X-Original-Method $request_method', 'X-Real-IP $remote_addr', 'X-Forwarded-For $remote_addr'],
  },
  'ingress-nginx': {
    protectedPaths: ['/'],
    open: ['/saml/', '= /logout', '= /userinfo'],
    authLocation: '/_external-auth-Lw-Prefix',
    authHeaders: [
      'X-Original-URL $scheme://$http_host$request_uri',
      'X-Original-Method $request_method',
      'X-Sent-From nginx-ingress-controller',
      'X-Real-IP $remote_addr',
      'X-Forwarded-For $remote_addr',
      'X-Auth-Request-Redirect $request_uri',
      'X-Forwarded-Proto ',
    ],
  },
};

const IDENTITY = ['X-Auth-Request-User', 'X-Auth-Request-Email', 'X-Auth-Request-Groups', 'X-Auth-Request-Jwt'];
const label = (l: Location) => (l.modifier ? `${l.modifier} ${l.path}` : l.path);

export function e2eSuite(config: ConfigName): void {
  const binary = findNginx();
  const missing = binary === null ? 'no `nginx` binary on PATH or in /usr/sbin' : config === 'ingress-nginx' && findModules(SET_MISC_MODULES) === null ? 'the set-misc module (Debian: libnginx-mod-http-set-misc) is not installed' : null;
  if (missing !== null) {
    const message = `END-TO-END SUITE NOT RUN for ${config}: ${missing}. Install it (apt-get install nginx libnginx-mod-http-set-misc) — npm test installs it when run as root.`;
    if (process.env.CI && process.env.CI !== 'false') {
      t.fail(`${message} CI must run it.`);
    } else {
      process.stderr.write(`\n${'!'.repeat(100)}\n${message}\n${'!'.repeat(100)}\n\n`);
      t.test(`${config} through a real NGINX`, { skip: message }, () => {});
    }
    return;
  }
  const version = nginxVersion(binary!);
  t.comment(`${config}: ${version} (${binary})`);

  let stack!: Stack;
  t.before(async () => {
    const started = Date.now();
    stack = await startStack(t, config, binary!);
    // registered after the stack's own teardown, so it runs first, while the logs are still there
    t.teardown(async () => {
      if (t.counts.fail > 0) t.comment(await stack.diagnostics());
    });
    t.comment(`${config}: stack up in ${Date.now() - started} ms (NGINX on ${stack.base})`);
  });

  const expected = EXPECTED[config];
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  /** A request whose record must stay empty: the application never saw it. */
  const refused = async (tt: Test, r: RawRequest, what: string): Promise<RawResponse> => {
    stack.echo.clear();
    const res = await stack.request(r);
    tt.same(stack.echo.records, [], `${what}: never reached the application (NGINX answered ${res.status})`);
    tt.not(res.status, 200, `${what}: not a 200`);
    return res;
  };
  /** A request that must reach the application: its one record. */
  const reached = async (tt: Test, r: RawRequest, what: string) => {
    stack.echo.clear();
    const res = await stack.request(r);
    tt.equal(res.status, 200, `${what}: 200 from the application`);
    tt.equal(stack.echo.records.length, 1, `${what}: the application served it once`);
    return { res, record: stack.echo.records[0]! };
  };
  /** A 302 to sign in whose return URL is `returnTo` (default: the request-target itself). */
  const signinRedirect = (tt: Test, res: RawResponse, target: string, what: string, returnTo = target) => {
    tt.equal(res.status, 302, `${what}: 302 to sign in`);
    const location = res.header('location') ?? '';
    if (config === 'auth-request') {
      tt.equal(location, `${stack.signinUrl}?rd=${stack.base}${returnTo}`, `${what}: to /saml/login?rd=${returnTo}`);
    } else {
      tt.ok(location.startsWith(`${stack.signinUrl}?rd=`), `${what}: to the auth-signin URL (${location})`);
      tt.equal(new URL(location).searchParams.get('rd'), `${stack.base}${returnTo}`, `${what}: rd is ${returnTo}, escaped`);
    }
    return location;
  };

  t.test(`${config} (${version}): the configuration has the shape the suite relies on`, async (t) => {
    const locs = locations(stack.site);
    const reachable = locs.filter((l) => !l.internal && l.modifier !== '@');
    const protectedLocs = reachable.filter((l) => l.authRequest !== null);
    const open = reachable.filter((l) => l.authRequest === null);
    t.same(protectedLocs.map((l) => l.path).sort(), expected.protectedPaths, 'protected locations');
    t.same(open.map(label).sort(), [...expected.open].sort(), 'unprotected locations: sign-in, logout and userinfo only');
    for (const l of open) t.match(l.proxyPass, /token_service/, `${label(l)} goes to the token-service, never the application`);
    for (const l of protectedLocs) {
      t.equal(l.authRequest, expected.authLocation, `${label(l)} asks ${expected.authLocation}`);
      const phaseEarly = l.directives.filter((d) => d.name === 'return' || d.name === 'rewrite').map((d) => d.name);
      t.same(phaseEarly, [], `${label(l)}: no return/rewrite (they answer before the access phase)`);
      const lines = directiveLines(l);
      for (const h of IDENTITY) {
        t.ok(lines.some((x) => x.startsWith(`proxy_set_header ${h} $`)), `${label(l)} sets ${h} from the auth answer (overwrites the client's)`);
        t.ok(lines.some((x) => new RegExp(`^auth_request_set \\$\\w+ \\$upstream_http_${h.toLowerCase().replace(/-/g, '_')}$`).test(x)), `${label(l)} reads ${h} with auth_request_set`);
      }
      t.ok(lines.some((x) => /^error_page 401 = @/.test(x)), `${label(l)}: 401 goes to the sign-in location`);
      t.ok(lines.includes('error_page 403 /saml/forbidden'), `${label(l)}: 403 shows the token-service's forbidden page, keeping the status`);
    }
    const auth = locs.find((l) => l.modifier === '=' && l.path === expected.authLocation);
    t.ok(auth?.internal, 'the auth location is internal');
    const authLines = auth ? directiveLines(auth) : [];
    t.ok(authLines.includes('proxy_pass_request_body off'), 'the auth subrequest carries no body');
    t.ok(authLines.includes('proxy_set_header Content-Length '), 'and no Content-Length');
    for (const h of expected.authHeaders) t.ok(authLines.includes(`proxy_set_header ${h}`), `auth subrequest: ${h}`);
    const named = locs.filter((l) => l.modifier === '@');
    t.equal(named.length, 1, 'one sign-in location');
    t.match(directiveLines(named[0]!).join('\n'), /^return 302 /m, 'which redirects with 302');
    if (config === 'ingress-nginx') {
      t.ok(directiveLines(protectedLocs[0]!).includes('set_escape_uri $escaped_request_uri $request_uri'), 'the return URL is escaped');
      t.match(stack.site, /upstream upstream_balancer \{[^}]*keepalive 320;/, 'upstream keepalive (upstream-keepalive-connections 320)');
    }
  });

  t.test('every protected location refuses a request without a token; internal ones are unreachable', async (t) => {
    const locs = locations(stack.site);
    for (const l of locs.filter((x) => x.authRequest !== null && !x.internal)) {
      const path = probePath(l);
      for (const method of ['GET', 'POST', 'DELETE']) {
        const res = await refused(t, { method, target: path, ...(method === 'POST' ? { body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}) }, `${method} ${path} (location ${label(l)})`);
        if (method === 'GET') signinRedirect(t, res, path, `${method} ${path}`);
        else t.ok([302, 401].includes(res.status), `${method} ${path}: refused as unauthenticated (${res.status})`);
      }
    }
    for (const l of locs.filter((x) => x.internal && x.modifier === '=')) {
      const res = await refused(t, { target: l.path }, `internal ${l.path} from outside`);
      t.equal(res.status, 404, `${l.path} is internal: 404`);
    }
  });

  t.test('no token → sign-in redirect; the SP-initiated login completes through NGINX and the cookie reaches the app', async (t) => {
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
    const token = await stack.signIn();
    for (const [method, target] of [['GET', '/admin/panel'], ['POST', '/admin/users'], ['GET', '/app/secrets/key'], ['DELETE', '/app/secrets/key']] as const) {
      const res = await refused(t, { method, target, headers: bearer(token) }, `${method} ${target} as alice (staff)`);
      t.equal(res.status, 403, `${method} ${target}: 403`);
    }
  });

  t.test('path and header tricks aimed at forbidden routes never reach them', async (t) => {
    const token = await stack.signIn();
    const statuses = new Map<number, number>();
    for (const [target, why, headers] of TRICKS) {
      const shown = Buffer.isBuffer(target) ? target.toString('utf8') : target;
      const res = await refused(t, { target, headers: { ...bearer(token), ...headers } }, `${why}: ${shown}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    t.comment(`${config}: ${TRICKS.length} tricks, NGINX answered ${[...statuses].map(([s, n]) => `${s}×${n}`).join(', ')}`);
    noServerErrors(t, statuses, 'path and header tricks');

    // The same record shows what does reach the application: the controls prove the check can fail.
    for (const [target, why] of [['/app/x', 'plain'], ['//app//x', 'merged slashes'], ['/app/%78', 'an encoded letter']] as const) {
      const { record } = await reached(t, { target, headers: bearer(token) }, `control, ${why}: ${target}`);
      t.equal(record.url, target, `control ${target}: the application sees the raw request-target`);
      t.equal(record.user, ALICE.nameId, `control ${target}: with the identity`);
    }
  });

  /** Sends each trick (never to reach the application) and counts NGINX's statuses. */
  const sendTricks = async (tt: Test, tricks: readonly RequestTrick[], token: string) => {
    const statuses = new Map<number, number>();
    for (const trick of tricks.filter((x) => x.only === undefined || x.only === config).map((x) => fill(x, `${HOST}:${stack.port}`, stack.port))) {
      const headers = { ...bearer(token), ...trick.headers };
      const shown = `${trick.method ?? 'GET'} ${trick.target}${trick.headers ? ` ${JSON.stringify(trick.headers)}` : ''}`;
      const request = { method: trick.method ?? 'GET', target: trick.target, headers, ...(trick.noHost ? { httpVersion: '1.0' as const, noHost: true } : {}) };
      const res = await refused(tt, request, `${trick.why}: ${shown}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    tt.comment(`${config}: ${[...statuses.values()].reduce((a, b) => a + b, 0)} tricks, NGINX answered ${[...statuses].map(([s, n]) => `${s}×${n}`).join(', ')}`);
    return statuses;
  };
  /** Attack traffic must never fire an operator's 5xx alerts: /auth answers 401 or 403, never 400. */
  const noServerErrors = (tt: Test, statuses: Map<number, number>, what: string) => {
    const errors = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    tt.equal(errors, 0, `${what}: no response ≥ 500 at the client`);
  };

  t.test('Host-header tricks never move the checked path or host away from what NGINX serves', async (t) => {
    const token = await stack.signIn();
    // Controls: `/` is public, so a Host that moved the path into the query would be admitted.
    const root = await reached(t, { target: '/' }, 'control: GET / (public)');
    t.equal(root.record.url, '/', 'control: the application serves /');
    await refused(t, { target: '/admin/panel', headers: bearer(token) }, 'control: GET /admin/panel as alice');
    const statuses = await sendTricks(t, HOST_TRICKS, token);
    noServerErrors(t, statuses, 'Host-header tricks');
  });

  t.test('method aliases and override headers never pass a method-scoped deny', async (t) => {
    const token = await stack.signIn();
    // Controls: alice may POST to /app/x and HEAD /app/x, so each trick below is stopped by the deny alone.
    for (const method of ['POST', 'HEAD', 'PUT']) {
      const { record } = await reached(t, { method, target: '/app/x', headers: bearer(token) }, `control: ${method} /app/x`);
      t.equal(record.method, method, `control: the application ran ${method}`);
    }
    const statuses = await sendTricks(t, METHOD_TRICKS, token);
    noServerErrors(t, statuses, 'method tricks');
    // The override headers reach /auth: auth_request forwards the client's headers to the subrequest.
    const res = await refused(t, { method: 'POST', target: '/app/x', headers: { ...bearer(token), 'x-http-method-override': 'PUT' } }, 'POST /app/x with an override naming PUT');
    t.equal(res.status, 403, 'an override naming an allowed method is refused too (403 method_override)');
  });

  t.test('host rules ignore the port: the port in the Host header is the client\'s', async (t) => {
    const token = await stack.signIn();
    for (const host of [`${ADMIN_HOST}:1`, `${ADMIN_HOST}:65535`, `${ADMIN_HOST}:${stack.port}`, ADMIN_HOST.toUpperCase(), `${ADMIN_HOST}.`]) {
      const res = await refused(t, { target: '/app/x', headers: { ...bearer(token), host } }, `Host: ${host}`);
      t.equal(res.status, 403, `Host: ${host}: 403`);
    }
    // Any port a client writes reaches the same server: a port-scoped host rule would be the client's choice
    // (ingress-nginx passes $http_host on) or never match (plain NGINX passes $host, without a port). Hence
    // the authz-service refuses port-scoped host patterns (lint error host_with_port).
    const { record } = await reached(t, { target: '/app/x', headers: { ...bearer(token), host: `${HOST}:1` } }, 'Host: 127.0.0.1:1 (a port nothing listens on)');
    t.equal(record.host, config === 'ingress-nginx' ? `${HOST}:1` : HOST, `the application sees Host ${record.host}`);
  });

  t.test('the host the decision is made for is the host the application sees', async (t) => {
    const token = await stack.signIn();
    const authority = `${HOST}:${stack.port}`;
    // ADMIN_HOST is denied to alice by a host rule; /app/x is allowed to her on any other host.
    const res = await refused(t, { target: '/app/x', headers: { ...bearer(token), host: ADMIN_HOST } }, `Host: ${ADMIN_HOST}`);
    t.equal(res.status, 403, `Host: ${ADMIN_HOST}: 403 (host rule)`);
    const mixed: Array<[string, Record<string, string>, string]> = [
      [`http://${ADMIN_HOST}/app/x`, { host: authority }, `request-line host ${ADMIN_HOST}, Host header ${authority}`],
      [`http://${authority}/app/x`, { host: ADMIN_HOST }, `request-line host ${authority}, Host header ${ADMIN_HOST}`],
    ];
    for (const [target, headers, what] of mixed) {
      stack.echo.clear();
      const r = await stack.request({ target, headers: { ...bearer(token), ...headers } });
      const admitted = stack.echo.records.filter((rec) => (rec.host ?? '').toLowerCase().startsWith(ADMIN_HOST));
      t.same(admitted, [], `${what}: the application never serves ${ADMIN_HOST} to alice (NGINX answered ${r.status})`);
    }
  });

  t.test('logout through NGINX: the next request is refused within a second', async (t) => {
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
    const acs = await postAcs(stack.request, await stack.sign(), { relayState: `${stack.base}${returnTo}`, accept: 'text/html,application/xhtml+xml', localAddress: REDEEM_NETWORK });
    tt.equal(acs.status, 303, 'signed in: 303');
    const token = cookiePair(acs.headers['set-cookie']?.find((c) => c.startsWith('__Host-saml_authz=')));
    const session = cookiePair(acs.headers['set-cookie']?.find((c) => c.startsWith('__Host-saml_authz_session=')));
    tt.ok(token && session, 'a token cookie and a session cookie');
    return { token: token!, session: session!, jwt: token!.slice('__Host-saml_authz='.length) };
  };
  const html = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-dest': 'document' };

  t.test('an expired token is renewed through the 401 → /saml/login?rd= redirect with the session cookie, without the IdP', async (t) => {
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

  t.test('a request from outside ALLOWED_CIDRS cannot redeem a SAML response', async (t) => {
    const saml = await stack.sign();
    const outside = await postAcs(stack.request, saml);
    t.equal(outside.status, 403, 'from 127.0.0.1 (outside 127.0.0.2/32): 403');
    t.same(outside.json(), { error: 'source_not_allowed', message: 'this network may not redeem SAML responses' }, 'source_not_allowed');
    const spoofed = await postAcs(stack.request, saml, { headers: { 'x-real-ip': REDEEM_NETWORK, 'x-forwarded-for': REDEEM_NETWORK } });
    t.equal(spoofed.status, 403, 'X-Real-IP/X-Forwarded-For sent by the client do not help: NGINX overwrites them');
    const browser = await postAcs(stack.request, saml, { accept: 'text/html' });
    t.equal(browser.status, 403, 'nor does a browser form post');
    t.equal(browser.header('set-cookie'), undefined, 'and no cookie is set');
    const inside = await postAcs(stack.request, saml, { localAddress: REDEEM_NETWORK });
    t.equal(inside.status, 200, 'the same response from 127.0.0.2 is redeemed: it was valid and unspent, only the network was refused');
    t.match(inside.json(), { token_type: 'Bearer' });
  });

  t.test('upstream keepalive: NGINX reuses its connections to the application', async (t) => {
    const token = await stack.signIn();
    stack.echo.clear();
    const before = await socketsOnPort(stack.authz.port);
    for (let i = 0; i < 10; i++) t.equal((await stack.request({ target: `/app/k${i}`, headers: bearer(token) })).status, 200);
    const after = await socketsOnPort(stack.authz.port);
    const ports = new Set(stack.echo.records.map((r) => r.remotePort));
    t.equal(stack.echo.records.length, 10, 'ten requests served');
    t.ok(ports.size <= 2, `the application: served on ${ports.size} connection(s), not ten`);
    if (before === null || after === null) return t.comment('no /proc/net/tcp: auth connections not counted');
    const opened = openedBetween(before, after, stack.authz.port);
    if (config === 'auth-request') {
      t.ok(opened <= 2, `the authz-service: ${opened} new connection(s) for ten allowed requests (keepalive; a 200 has no body)`);
    } else {
      // ingress-nginx without the auth-keepalive annotation proxies to the auth-url directly: one
      // connection per request. Measured so that the keepalive check above is known to be able to fail.
      t.ok(opened >= 10, `the authz-service: ${opened} new connections for ten requests (ingress-nginx default: no auth keepalive)`);
    }
  });

}
