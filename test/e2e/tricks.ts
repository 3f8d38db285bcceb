/**
 * Requests aimed at routes alice may not reach (/admin/** needs the admins group; /app/secrets/** is
 * denied to everyone), each disguised the way some proxy or application reads paths differently from
 * another: one row per trick, with why it is there. Optional headers: a client's attempt to speak for
 * the front end. The suite asserts the application's record stays empty for every row.
 */
export type Trick = readonly [target: string | Buffer, why: string, headers?: Record<string, string>];

export const TRICKS: ReadonlyArray<Trick> = [
  ['/ADMIN/panel', 'upper case'],
  ['/Admin/panel', 'mixed case'],
  ['/app/SECRETS/key', 'case on a deny rule'],
  ['/APP/secrets/key', 'case on the prefix'],
  ['/%61dmin/panel', 'an encoded letter'],
  ['/app/%73ecrets/key', 'an encoded letter in a deny rule'],
  ['/app/%2e%2e/admin/panel', 'encoded dot segment'],
  ['/app/%2E%2E/admin/panel', 'encoded dot segment, upper case'],
  ['/app/.%2e/admin/panel', 'half-encoded dot segment'],
  ['/app/%2e%2e%2fadmin/panel', 'encoded dots and slash'],
  ['/app/..%2fadmin/panel', 'encoded slash after dots'],
  ['/app/..%2Fadmin/panel', 'encoded slash, upper case'],
  ['/app%2f..%2fadmin/panel', 'encoded slashes around dots'],
  ['/admin%2Fpanel', 'encoded slash'],
  ['/app/secrets%2fkey', 'encoded slash in a deny rule'],
  ['/app/../admin/panel', 'raw dot segment'],
  ['/app/./../admin/panel', '/./ then ..'],
  ['/./admin/panel', '/./'],
  ['/app/./secrets/key', '/./ in a deny rule'],
  ['/app/x/../../admin/panel', 'two dot segments'],
  ['/app/..;/admin/panel', '..;/ (Tomcat/Spring path parameter)'],
  ['/app;x=1/../admin/panel', 'path parameter then ..'],
  ['/admin/panel;.js', 'path parameter suffix'],
  ['/app/secrets;/key', 'path parameter in a deny rule'],
  ['//admin/panel', 'double slash'],
  ['///admin//panel', 'triple slash'],
  ['/app//secrets/key', 'double slash in a deny rule'],
  ['/app//../admin/panel', 'double slash then ..'],
  ['/app/..\\admin/panel', 'backslash'],
  ['/app\\..\\admin\\panel', 'backslashes'],
  ['/app/%5c..%5cadmin/panel', 'encoded backslashes'],
  ['/app/%252e%252e/admin/panel', 'double encoding'],
  ['/app/%252e%252e%252fadmin/panel', 'double encoding with slash'],
  ['/app/%25252e%25252e/admin/panel', 'triple encoding'],
  ['/app/%c0%ae%c0%ae/admin/panel', 'overlong UTF-8 dots'],
  ['/app/%c0%ae%c0%ae%c0%afadmin/panel', 'overlong UTF-8 dots and slash'],
  ['/app/%e0%80%ae%e0%80%ae/admin/panel', 'three-byte overlong dots'],
  ['/app/%ef%bc%8e%ef%bc%8e/admin/panel', 'fullwidth dots, encoded'],
  ['/app/%ef%bc%8e%ef%bc%8e%ef%bc%8fadmin/panel', 'fullwidth dots and slash, encoded'],
  [Buffer.from('/app/．．/admin/panel', 'utf8'), 'fullwidth dots, raw UTF-8'],
  [Buffer.from('/app/．．／admin/panel', 'utf8'), 'fullwidth dots and slash, raw UTF-8'],
  ['/%EF%BD%81dmin/panel', 'fullwidth letter'],
  ['/admin/panel%00', 'NUL'],
  ['/admin/panel%00.js', 'NUL before an extension'],
  ['/app/secrets/key%09', 'encoded tab'],
  ['/admin/panel#/app/x', 'fragment'],
  ['/admin/panel?/app/x', 'query that looks like an allowed path'],
  ['/admin/panel', 'X-Original-URI naming an allowed path', { 'x-original-uri': '/app/x' }],
  ['/admin/panel', 'X-Original-URL naming an allowed path', { 'x-original-url': 'http://127.0.0.1/app/x' }],
  ['/admin/panel', 'X-Original-Method', { 'x-original-method': 'GET', 'x-original-uri': '/app/x' }],
  ['/admin/panel', 'Traefik headers naming an allowed path', { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'http', 'x-forwarded-host': '127.0.0.1', 'x-forwarded-uri': '/app/x' }],
  ['/admin/panel', 'X-Rewrite-URL / X-Envoy-Original-Path', { 'x-rewrite-url': '/app/x', 'x-envoy-original-path': '/app/x' }],
];

/** A trick that needs its own method or Host header. `{authority}` in a value is NGINX's `host:port`. */
export interface RequestTrick {
  method?: string;
  /** HTTP/1.0 without a Host header: NGINX's `$host` is then the (empty) server_name */
  noHost?: boolean;
  /** only for this configuration (a header the other one overwrites in the auth subrequest) */
  only?: 'auth-request' | 'ingress-nginx';
  target: string;
  why: string;
  headers?: Record<string, string>;
}

/**
 * Host headers (and absolute-form request lines) that a front end could read another way than NGINX
 * routes them (issue 12 item 1). Every target is forbidden to alice; `/` is public (root-public), so a
 * Host that moved `/admin/panel` into the query would be decided for `/` and served.
 */
export const HOST_TRICKS: ReadonlyArray<RequestTrick> = [
  { target: '/admin/panel', why: 'a "?" after the port', headers: { host: '{authority}?' } },
  { target: '/admin/panel', why: 'a "?" after the name', headers: { host: '127.0.0.1?' } },
  { target: '/admin/panel', why: 'a "?" and a query', headers: { host: '{authority}?x=1' } },
  { target: '/admin/panel', why: 'a "#" after the port', headers: { host: '{authority}#' } },
  { target: '/admin/panel', why: 'a "#" after the name', headers: { host: '127.0.0.1#' } },
  { target: '/admin/panel', why: 'userinfo after the host', headers: { host: '{authority}@evil.example' } },
  { target: '/admin/panel', why: 'userinfo before the host', headers: { host: 'evil.example@{authority}' } },
  { target: '/admin/panel', why: 'a second port', headers: { host: '127.0.0.1:80:{port}' } },
  { target: '/admin/panel', why: 'a second port after the real one', headers: { host: '{authority}:443' } },
  { target: '/admin/panel', why: 'a trailing tab', headers: { host: '{authority}\t' } },
  { target: '/admin/panel', why: 'an inner space', headers: { host: '127.0.0.1 :{port}' } },
  { target: '/admin/panel', why: 'an inner tab', headers: { host: '127.0.0.1\t{port}' } },
  { target: '/admin/panel', why: 'an encoded slash', headers: { host: '{authority}%2f' } },
  { target: '/admin/panel', why: 'an encoded "?"', headers: { host: '{authority}%3f' } },
  { target: '/admin/panel', why: 'a backslash', headers: { host: '{authority}\\' } },
  { target: '/admin/panel', why: 'a backslash and @', headers: { host: '{authority}\\@evil.example' } },
  { target: '/admin/panel', why: 'a slash and a path', headers: { host: '{authority}/x' } },
  { target: '/admin/panel', why: 'a ";"', headers: { host: '{authority};x' } },
  { target: '/admin/panel', why: 'a trailing dot', headers: { host: '127.0.0.1.:{port}' } },
  { target: '/admin/panel', why: 'an empty Host', headers: { host: '' } },
  { target: '/admin/panel', why: 'a port only', headers: { host: ':{port}' } },
  { target: '/admin/panel', why: 'HTTP/1.0 without a Host header', noHost: true },
  { target: '/', why: 'HTTP/1.0 without a Host header, to the public /', noHost: true },
  { target: 'http://{authority}/admin/panel', why: 'absolute-form request line' },
  // Headers applications read as the host or the path, sent with an allowed target: refused, since
  // the front end passes them on to the application.
  { target: '/app/x', why: 'X-Forwarded-Host naming the admin host', headers: { 'x-forwarded-host': 'admin.e2e.test' } },
  { target: '/app/x', why: 'Forwarded host= naming the admin host', headers: { forwarded: 'for=192.0.2.1;host=admin.e2e.test' } },
  { target: '/app/x', why: 'X-Rewrite-URL naming a forbidden path', headers: { 'x-rewrite-url': '/admin/panel' } },
  // ingress-nginx overwrites X-Original-URL in the auth subrequest, so /auth cannot see the client's:
  // strip it at the controller (docs/security-authz.md). Plain NGINX passes it to /auth, which refuses it.
  { target: '/app/x', why: 'X-Original-URL naming a forbidden path', headers: { 'x-original-url': '/admin/panel' }, only: 'auth-request' },
  { target: 'http://other.example/admin/panel', why: 'absolute-form naming another host' },
  { target: 'http://{authority}?/admin/panel', why: 'absolute-form with a "?" after the authority' },
  { target: 'http://{authority}/admin/panel', why: 'absolute-form, Host header with a "?"', headers: { host: '{authority}?' } },
  { target: 'http://{authority}/admin/panel', why: 'absolute-form, Host header with userinfo', headers: { host: 'x@{authority}' } },
];

/**
 * Method aliases aimed at method-scoped denies (issue 12 item 2): no-deletes-in-app denies DELETE on
 * /app/**, drafts-not-readable denies GET on /app/drafts/**; alice may otherwise use any method there.
 */
export const METHOD_TRICKS: ReadonlyArray<RequestTrick> = [
  { method: 'DELETE', target: '/app/x', why: 'DELETE itself (control of the deny)' },
  { method: 'HEAD', target: '/app/drafts/x', why: 'HEAD on a GET-only deny' },
  { method: 'delete', target: '/app/x', why: 'a lower-case method' },
  { method: 'Delete', target: '/app/x', why: 'a mixed-case method' },
  { method: 'POST', target: '/app/x', why: 'X-HTTP-Method-Override', headers: { 'x-http-method-override': 'DELETE' } },
  { method: 'POST', target: '/app/x', why: 'X-HTTP-Method-Override, lower case', headers: { 'x-http-method-override': 'delete' } },
  { method: 'POST', target: '/app/x', why: 'X-HTTP-Method', headers: { 'x-http-method': 'DELETE' } },
  { method: 'POST', target: '/app/x', why: 'X-Method-Override', headers: { 'x-method-override': 'DELETE' } },
  { method: 'GET', target: '/app/drafts/x', why: 'X-HTTP-Method-Override naming GET on a GET-only deny', headers: { 'x-http-method-override': 'GET' } },
  { method: 'POST', target: '/app/x', why: 'X-Original-Method naming another method', headers: { 'x-original-method': 'POST', 'x-http-method-override': 'DELETE' } },
];

/** `{authority}` and `{port}` filled in. */
export function fill(trick: RequestTrick, authority: string, port: number): RequestTrick {
  const sub = (s: string) => s.replaceAll('{authority}', authority).replaceAll('{port}', String(port));
  return {
    ...trick,
    target: sub(trick.target),
    ...(trick.headers ? { headers: Object.fromEntries(Object.entries(trick.headers).map(([k, v]) => [k, sub(v)])) } : {}),
  };
}
