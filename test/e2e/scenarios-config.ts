/** End-to-end scenarios on the configuration itself: the shape the suite relies on, every protected location refusing, internal ones unreachable. */
import t from 'tap';
import { directiveLines, locations, probePath, type Location } from './locations.js';
import type { ConfigName } from './nginx.js';
import type { ScenarioKit } from './scenario-kit.js';

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

export function configScenarios(kit: ScenarioKit, version: string): void {
  const { config, refused, signinRedirect } = kit;
  const expected = EXPECTED[config];

  t.test(`${config} (${version}): the configuration has the shape the suite relies on`, async (t) => {
    const { stack } = kit;
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
    const { stack } = kit;
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
}
