import t from 'tap';
import fc from 'fast-check';
import {
  readOriginalRequest,
  type AuthRequestInput,
  type FrontEnd,
  type ReadResult,
} from '../../../services/authz-service/request/front-end.js';
import { repeats, splitAbsoluteUrl } from '../../../services/authz-service/request/headers.js';

type Headers = AuthRequestInput['headers'];
type Row = [name: string, frontEnd: FrontEnd, input: Partial<AuthRequestInput>, expected: ReadResult];

const ok = (method: string, host: string, rawPath: string): ReadResult => ({ ok: true, method, host, rawPath });
const no = (reason: Extract<ReadResult, { ok: false }>['reason']): ReadResult => ({ ok: false, reason });
const nginx: Headers = { host: 'App.Example.com', 'x-original-uri': '/a/b?c=1', 'x-original-method': 'DELETE' };
const ingress: Headers = {
  host: 'authz.svc',
  'x-original-url': 'https://App.example.com:8443/a/%2e%2e/b?c',
  'x-original-method': 'GET',
  'x-auth-request-redirect': '/a/%2e%2e/b?c',
};
/** What ingress-nginx sends for a client's Host header and request-target (`$scheme://$http_host$request_uri`). */
const ingressFor = (httpHost: string, requestUri = '/admin/panel'): Headers => ({
  host: 'authz.svc',
  'x-original-url': `https://${httpHost}${requestUri}`,
  'x-original-method': 'GET',
  'x-auth-request-redirect': requestUri,
});
const traefik: Headers = {
  host: 'authz.svc',
  'x-forwarded-method': 'POST',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'app.example.com',
  'x-forwarded-uri': '/x?y',
};

/** Host values a front end could read another way (issue 12 item 1): refused under every front end. */
const HOST_TRICKS = [
  ['a.com:443?', 'a "?" after the port'],
  ['a.com?', 'a "?" after the name'],
  ['a.com:443#', 'a "#"'],
  ['a.com#x', 'a "#" and more'],
  ['a.com@evil.com', 'userinfo'],
  ['evil.com@a.com', 'userinfo before the host'],
  ['a.com:80:443', 'a second port'],
  ['a.com:443:', 'an empty second port'],
  ['a.com\\', 'a backslash'],
  ['a.com\\@evil', 'a backslash and @'],
  ['a.com%2f', 'an encoded slash'],
  ['a.com%3f', 'an encoded "?"'],
  ['a.com%23', 'an encoded "#"'],
  ['a.com%40evil', 'an encoded "@"'],
  ['a.com\t', 'a tab'],
  ['a.com ', 'a trailing space'],
  [' a.com', 'a leading space'],
  ['a. com', 'an inner space'],
  ['', 'an empty Host'],
  [':443', 'a port without a name'],
  ['a.com;x', 'a ";"'],
  ['[::1', 'an unclosed IPv6 literal'],
] as const;

const rows: Row[] = [
  // nginx
  ['nginx: reads X-Original-URI, X-Original-Method, Host', 'nginx', { headers: nginx }, ok('DELETE', 'app.example.com', '/a/b?c=1')],
  ['nginx: missing X-Original-URI', 'nginx', { headers: { ...nginx, 'x-original-uri': undefined } }, no('missing_original_request')],
  ['nginx: missing X-Original-Method', 'nginx', { headers: { ...nginx, 'x-original-method': undefined } }, no('missing_original_request')],
  ['nginx: missing Host', 'nginx', { headers: { ...nginx, host: undefined } }, no('missing_original_request')],
  ['nginx: no fallback to X-Original-URL', 'nginx', { headers: { host: 'a.com', 'x-original-url': 'https://a.com/x', 'x-original-method': 'GET' } }, no('missing_original_request')],
  ['nginx: no fallback to Traefik headers', 'nginx', { headers: { host: 'a.com', 'x-forwarded-uri': '/x', 'x-forwarded-method': 'GET' } }, no('missing_original_request')],
  ['nginx: a repeated header', 'nginx', { headers: { ...nginx, 'x-original-uri': ['/a', '/b'] } }, no('ambiguous_header')],
  ['nginx: a repeated header in rawHeaders', 'nginx', { headers: nginx, rawHeaders: ['Host', 'a.com', 'X-Original-URI', '/a', 'x-original-uri', '/b'] }, no('ambiguous_header')],
  ['nginx: a repeated Host (Node keeps the first)', 'nginx', { headers: nginx, rawHeaders: ['Host', 'a.com', 'Host', 'evil.com'] }, no('ambiguous_header')],
  ['nginx: a repeated Host in any letter case', 'nginx', { headers: nginx, rawHeaders: ['HOST', 'a.com', 'hOsT', 'evil.com'] }, no('ambiguous_header')],
  ['nginx: names one letter or one character apart are not repeats', 'nginx', { headers: nginx, rawHeaders: ['Host', 'a.com', 'Hosu', 'x', 'H0st', 'x', 'X-Original-URI', '/a', 'X-Original-URL', 'x', 'X_Original_URI', 'x'] }, ok('DELETE', 'app.example.com', '/a/b?c=1')],
  ['nginx: a method that is not a token', 'nginx', { headers: { ...nginx, 'x-original-method': 'GET, POST' } }, no('bad_method')],
  ['nginx: an empty method', 'nginx', { headers: { ...nginx, 'x-original-method': '' } }, no('bad_method')],
  ['nginx: a lower-case method is upper-cased', 'nginx', { headers: { ...nginx, 'x-original-method': 'get' } }, ok('GET', 'app.example.com', '/a/b?c=1')],
  ['nginx: a mixed-case method is upper-cased', 'nginx', { headers: { ...nginx, 'x-original-method': 'DeLeTe' } }, ok('DELETE', 'app.example.com', '/a/b?c=1')],
  ['nginx: host with port', 'nginx', { headers: { ...nginx, host: 'app.example.com:8080' } }, ok('DELETE', 'app.example.com:8080', '/a/b?c=1')],
  ['nginx: host with @', 'nginx', { headers: { ...nginx, host: 'user@app.example.com' } }, no('bad_host')],
  ['nginx: empty host', 'nginx', { headers: { ...nginx, host: '' } }, no('bad_host')],
  ['nginx: host with a backslash', 'nginx', { headers: { ...nginx, host: 'evil.com\\app.example.com' } }, no('bad_host')],
  ['nginx: host with a path', 'nginx', { headers: { ...nginx, host: 'app.example.com/admin' } }, no('bad_host')],
  ['nginx: Traefik headers that agree', 'nginx', { headers: { ...nginx, 'x-forwarded-uri': '/a/b?c=1', 'x-forwarded-host': 'APP.example.com' } }, ok('DELETE', 'app.example.com', '/a/b?c=1')],
  ['nginx: X-Forwarded-Uri that disagrees', 'nginx', { headers: { ...nginx, 'x-forwarded-uri': '/public' } }, no('conflicting_front_end_headers')],
  ['nginx: X-Forwarded-Method that differs only in case agrees', 'nginx', { headers: { ...nginx, 'x-forwarded-method': 'delete' } }, ok('DELETE', 'app.example.com', '/a/b?c=1')],
  ['nginx: X-Forwarded-Method that disagrees', 'nginx', { headers: { ...nginx, 'x-forwarded-method': 'GET' } }, no('conflicting_front_end_headers')],
  // headers applications read as the path or host
  ['nginx: X-Rewrite-URL naming another path', 'nginx', { headers: { ...nginx, 'x-rewrite-url': '/admin' } }, no('conflicting_front_end_headers')],
  ['nginx: X-Rewrite-URL that agrees', 'nginx', { headers: { ...nginx, 'x-rewrite-url': '/a/b?c=1' } }, ok('DELETE', 'app.example.com', '/a/b?c=1')],
  ['nginx: Forwarded host= naming another host', 'nginx', { headers: { ...nginx, forwarded: 'for=1.2.3.4;host=admin.example.com;proto=https' } }, no('conflicting_front_end_headers')],
  ['nginx: Forwarded host= quoted, another host', 'nginx', { headers: { ...nginx, forwarded: 'for="[::1]";Host="admin.example.com:443"' } }, no('conflicting_front_end_headers')],
  ['nginx: Forwarded, second element naming another host', 'nginx', { headers: { ...nginx, forwarded: 'host=app.example.com, host=admin.example.com' } }, no('conflicting_front_end_headers')],
  ['nginx: Forwarded host= that is not a host', 'nginx', { headers: { ...nginx, forwarded: 'host="app.example.com?x"' } }, no('conflicting_front_end_headers')],
  ['nginx: Forwarded host= that agrees', 'nginx', { headers: { ...nginx, forwarded: 'for=1.2.3.4;host=App.Example.com;proto=https' } }, ok('DELETE', 'app.example.com', '/a/b?c=1')],
  ['nginx: Forwarded without host=', 'nginx', { headers: { ...nginx, forwarded: 'for=1.2.3.4;proto=https;by=ghost=1' } }, ok('DELETE', 'app.example.com', '/a/b?c=1')],
  // method-override headers (refused by default, whatever their case or value)
  ['nginx: X-HTTP-Method-Override', 'nginx', { headers: { ...nginx, 'x-http-method-override': 'DELETE' } }, no('method_override')],
  ['nginx: X-HTTP-Method', 'nginx', { headers: { ...nginx, 'x-http-method': 'delete' } }, no('method_override')],
  ['nginx: X-Method-Override', 'nginx', { headers: { ...nginx, 'x-method-override': 'PUT' } }, no('method_override')],
  ['nginx: an override naming the same method', 'nginx', { headers: { ...nginx, 'x-http-method-override': 'DELETE' } }, no('method_override')],
  ['nginx: an empty override', 'nginx', { headers: { ...nginx, 'x-http-method-override': '' } }, no('method_override')],
  ['traefik: an override', 'traefik', { headers: { ...traefik, 'x-http-method-override': 'DELETE' } }, no('method_override')],
  ['envoy: an override', 'envoy', { method: 'POST', url: '/auth/ext/x', headers: { host: 'a.com', 'x-http-method-override': 'DELETE' } }, no('method_override')],
  ['ingress-nginx: an override', 'ingress-nginx', { headers: { ...ingress, 'x-method-override': 'DELETE' } }, no('method_override')],
  ['nginx: X-Forwarded-Host that disagrees', 'nginx', { headers: { ...nginx, 'x-forwarded-host': 'other.example.com' } }, no('conflicting_front_end_headers')],
  ['nginx: X-Original-URL that disagrees', 'nginx', { headers: { ...nginx, 'x-original-url': 'https://app.example.com/public' } }, no('conflicting_front_end_headers')],
  ['nginx: X-Original-URL that is not a URL', 'nginx', { headers: { ...nginx, 'x-original-url': '/a/b?c=1' } }, no('conflicting_front_end_headers')],
  ['nginx: X-Original-URL that agrees', 'nginx', { headers: { ...nginx, 'x-original-url': 'http://app.example.com/a/b?c=1' } }, ok('DELETE', 'app.example.com', '/a/b?c=1')],
  ['nginx: an envoy-style /auth URL that disagrees', 'nginx', { url: '/auth/ext/public', headers: nginx }, no('conflicting_front_end_headers')],
  // ingress-nginx
  ['ingress-nginx: host and raw path from X-Original-URL', 'ingress-nginx', { headers: ingress }, ok('GET', 'app.example.com:8443', '/a/%2e%2e/b?c')],
  ['ingress-nginx: no path after the authority', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'http://a.com', 'x-auth-request-redirect': '/' } }, no('bad_url')],
  ['ingress-nginx: a query right after the authority', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'http://a.com?x=1', 'x-auth-request-redirect': '/' } }, no('bad_host')],
  ['ingress-nginx: IPv6 host', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'http://[2001:db8::1]:8080/x', 'x-auth-request-redirect': '/x' } }, ok('GET', '[2001:db8::1]:8080', '/x')],
  ['ingress-nginx: upper-case scheme', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'HTTPS://a.com/x', 'x-auth-request-redirect': '/x' } }, ok('GET', 'a.com', '/x')],
  // ingress-nginx: Host headers that would move part of themselves into the path (issue 12 item 1)
  ['ingress-nginx: Host a.com (control)', 'ingress-nginx', { headers: ingressFor('a.com') }, ok('GET', 'a.com', '/admin/panel')],
  ['ingress-nginx: Host a.com:443 (control)', 'ingress-nginx', { headers: ingressFor('a.com:443') }, ok('GET', 'a.com:443', '/admin/panel')],
  ...HOST_TRICKS.map(([value, why]): Row => [`ingress-nginx: Host with ${why} (${JSON.stringify(value)})`, 'ingress-nginx', { headers: ingressFor(value) }, no('bad_host')]),
  // the same values where the other front ends read the host: Host (nginx, envoy), X-Forwarded-Host (traefik)
  ...HOST_TRICKS.map(([value, why]): Row => [`nginx: Host with ${why} (${JSON.stringify(value)})`, 'nginx', { headers: { ...nginx, host: value } }, no('bad_host')]),
  ...HOST_TRICKS.map(([value, why]): Row => [`traefik: X-Forwarded-Host with ${why} (${JSON.stringify(value)})`, 'traefik', { headers: { ...traefik, 'x-forwarded-host': value } }, no('bad_host')]),
  ...HOST_TRICKS.map(([value, why]): Row => [`envoy: Host with ${why} (${JSON.stringify(value)})`, 'envoy', { method: 'GET', url: '/auth/ext/x', headers: { host: value } }, no('bad_host')]),
  ['ingress-nginx: X-Auth-Request-Redirect that disagrees with the path', 'ingress-nginx', { headers: { ...ingress, 'x-auth-request-redirect': '/' } }, no('bad_url')],
  ['ingress-nginx: X-Auth-Request-Redirect differing only by the query', 'ingress-nginx', { headers: { ...ingress, 'x-auth-request-redirect': '/a/%2e%2e/b' } }, no('bad_url')],
  ['ingress-nginx: no X-Auth-Request-Redirect (the controller always sends it)', 'ingress-nginx', { headers: { ...ingress, 'x-auth-request-redirect': undefined } }, no('missing_original_request')],
  ['ingress-nginx: a repeated X-Auth-Request-Redirect', 'ingress-nginx', { headers: ingress, rawHeaders: ['X-Auth-Request-Redirect', '/a', 'X-Auth-Request-Redirect', '/b'] }, no('ambiguous_header')],
  ['ingress-nginx: a relative URL', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': '/x' } }, no('bad_url')],
  ['ingress-nginx: another scheme', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'ftp://a.com/x' } }, no('bad_url')],
  ['ingress-nginx: scheme-relative', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': '//a.com/x' } }, no('bad_url')],
  ['ingress-nginx: an empty authority', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'https:///admin' } }, no('bad_host')],
  ['ingress-nginx: a Host with a path moves nothing', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'https://a.com\\@evil/x' } }, no('bad_host')],
  ['ingress-nginx: userinfo', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'https://u:p@a.com/x' } }, no('bad_host')],
  ['ingress-nginx: a space in the host', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'https://a .com/x' } }, no('bad_host')],
  ['ingress-nginx: port 0', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'https://a.com:0/x' } }, no('bad_host')],
  ['ingress-nginx: port 65536', 'ingress-nginx', { headers: { ...ingress, 'x-original-url': 'https://a.com:65536/x' } }, no('bad_host')],
  ['ingress-nginx: missing X-Original-Method', 'ingress-nginx', { headers: { ...ingress, 'x-original-method': undefined } }, no('missing_original_request')],
  ['ingress-nginx: missing X-Original-URL, no fallback to X-Original-URI', 'ingress-nginx', { headers: { ...nginx } }, no('missing_original_request')],
  ['ingress-nginx: X-Original-URI that disagrees', 'ingress-nginx', { headers: { ...ingress, 'x-original-uri': '/a/b?c' } }, no('conflicting_front_end_headers')],
  ['ingress-nginx: X-Original-URI that agrees', 'ingress-nginx', { headers: { ...ingress, 'x-original-uri': '/a/%2e%2e/b?c' } }, ok('GET', 'app.example.com:8443', '/a/%2e%2e/b?c')],
  // traefik
  ['traefik: reads the four X-Forwarded headers', 'traefik', { headers: traefik }, ok('POST', 'app.example.com', '/x?y')],
  ['traefik: missing X-Forwarded-Proto', 'traefik', { headers: { ...traefik, 'x-forwarded-proto': undefined } }, no('missing_original_request')],
  ['traefik: missing X-Forwarded-Uri', 'traefik', { headers: { ...traefik, 'x-forwarded-uri': undefined } }, no('missing_original_request')],
  ['traefik: missing X-Forwarded-Host, no fallback to Host', 'traefik', { headers: { ...traefik, 'x-forwarded-host': undefined } }, no('missing_original_request')],
  ['traefik: a proto that is not http(s)', 'traefik', { headers: { ...traefik, 'x-forwarded-proto': 'gopher' } }, no('bad_url')],
  ['traefik: a bad X-Forwarded-Host', 'traefik', { headers: { ...traefik, 'x-forwarded-host': 'a.com#x' } }, no('bad_host')],
  ['traefik: X-Original-Method that disagrees', 'traefik', { headers: { ...traefik, 'x-original-method': 'GET' } }, no('conflicting_front_end_headers')],
  ['traefik: X-Original-URL that disagrees on host', 'traefik', { headers: { ...traefik, 'x-original-url': 'https://evil.com/x?y' } }, no('conflicting_front_end_headers')],
  // envoy
  ['envoy: the path after the prefix', 'envoy', { method: 'PUT', url: '/auth/ext/a/b?c', headers: { host: 'App.example.com' } }, ok('PUT', 'app.example.com', '/a/b?c')],
  ['envoy: an empty rest is /', 'envoy', { method: 'GET', url: '/auth/ext', headers: { host: 'a.com' } }, ok('GET', 'a.com', '/')],
  ['envoy: a query right after the prefix', 'envoy', { method: 'GET', url: '/auth/ext?x', headers: { host: 'a.com' } }, ok('GET', 'a.com', '/?x')],
  ['envoy: a URL that only starts like the prefix', 'envoy', { method: 'GET', url: '/auth/extra', headers: { host: 'a.com' } }, no('missing_original_request')],
  ['envoy: a URL without the prefix', 'envoy', { method: 'GET', url: '/auth', headers: { host: 'a.com' } }, no('missing_original_request')],
  ['envoy: missing Host', 'envoy', { method: 'GET', url: '/auth/ext/x', headers: {} }, no('missing_original_request')],
  ['envoy: X-Original-URI that disagrees', 'envoy', { method: 'GET', url: '/auth/ext/x', headers: { host: 'a.com', 'x-original-uri': '/y' } }, no('conflicting_front_end_headers')],
  ['envoy: a repeated foreign header', 'envoy', { method: 'GET', url: '/auth/ext/x', headers: { host: 'a.com', 'x-forwarded-uri': ['/x', '/y'] } }, no('conflicting_front_end_headers')],
];

for (const [name, frontEnd, input, expected] of rows) {
  t.test(name, async (t) => {
    const full: AuthRequestInput = { method: 'GET', url: '/auth', headers: {}, ...input };
    t.same(readOriginalRequest(frontEnd, full), expected);
  });
}

t.test('ingress-nginx: without the X-Auth-Request-Redirect check (auth-request-redirect annotation in use)', async (t) => {
  const input = { method: 'GET', url: '/auth', headers: { ...ingress, 'x-auth-request-redirect': 'https://elsewhere/' } };
  t.same(readOriginalRequest('ingress-nginx', input, { envoyPathPrefix: '/auth/ext', checkRequestRedirect: false }), ok('GET', 'app.example.com:8443', '/a/%2e%2e/b?c'));
  t.same(readOriginalRequest('ingress-nginx', input), no('bad_url'), 'checked by default');
  const trick = { method: 'GET', url: '/auth', headers: ingressFor('a.com:443?') };
  t.same(readOriginalRequest('ingress-nginx', trick, { envoyPathPrefix: '/auth/ext', checkRequestRedirect: false }), no('bad_host'), 'the authority is still strict');
});

t.test('method overrides, when the operator allows them', async (t) => {
  const allow = { envoyPathPrefix: '/auth/ext', allowMethodOverride: true };
  const read = (headers: Headers) => readOriginalRequest('nginx', { method: 'GET', url: '/auth', headers: { ...nginx, 'x-original-method': 'POST', ...headers } }, allow);
  t.same(read({ 'x-http-method-override': 'delete' }), { ...ok('POST', 'app.example.com', '/a/b?c=1'), overrideMethod: 'DELETE' }, 'the override is returned, upper-cased');
  t.same(read({ 'x-http-method': 'POST' }), ok('POST', 'app.example.com', '/a/b?c=1'), 'an override naming the same method changes nothing');
  t.same(read({ 'x-http-method-override': 'DELETE', 'x-method-override': 'DELETE' }), { ...ok('POST', 'app.example.com', '/a/b?c=1'), overrideMethod: 'DELETE' }, 'two agreeing overrides');
  t.same(read({ 'x-http-method-override': 'DELETE', 'x-method-override': 'PUT' }), no('method_override'), 'two overrides that disagree');
  t.same(read({ 'x-http-method-override': 'DELETE, PUT' }), no('method_override'), 'a list (a repeated header Node joined)');
  t.same(read({ 'x-http-method-override': ['DELETE', 'PUT'] }), no('method_override'), 'a repeated header');
});

t.test('envoy: a configured prefix', async (t) => {
  const input = { method: 'GET', url: '/ext-authz/x', headers: { host: 'a.com' } };
  t.same(readOriginalRequest('envoy', input, { envoyPathPrefix: '/ext-authz' }), ok('GET', 'a.com', '/x'));
});

t.test('splitAbsoluteUrl keeps the raw path', async (t) => {
  t.same(splitAbsoluteUrl('https://a.com/x/../%2F;y?z#f'), { ok: true, host: 'a.com', rawPath: '/x/../%2F;y?z#f' });
});

t.test('repeats: a name read twice in any letter case, whatever else is sent (property)', async (t) => {
  const names = ['x-original-uri', 'x-original-method', 'host'];
  // Names near the read ones: each character of a read name in either case, or a neighbour of it.
  const near = fc.constantFrom(...names).chain((n) =>
    fc.array(fc.constantFrom('upper', 'lower', 'other'), { minLength: n.length, maxLength: n.length }).map((how) =>
      [...n].map((c, i) => (how[i] === 'upper' ? c.toUpperCase() : how[i] === 'lower' ? c : String.fromCharCode(c.charCodeAt(0) ^ 1))).join(''),
    ),
  );
  const name = fc.oneof(near, fc.constantFrom('Authorization', 'X-Real-IP', 'Connection'));
  fc.assert(
    fc.property(fc.array(name, { maxLength: 8 }), (sent) => {
      const read = sent.map((n) => n.toLowerCase()).filter((n) => names.includes(n));
      return repeats(sent.flatMap((n) => [n, 'v']), names) === new Set(read).size < read.length;
    }),
    { numRuns: 5000 },
  );
  t.pass('5,000 header lists');
});
