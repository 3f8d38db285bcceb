/**
 * /auth against the classes of issue 12 (methods, audit paths, refusal headers, client addresses,
 * keys, policy footguns): a real app on a real database, real tokens, one row per variant.
 */
import t from 'tap';
import { createServer } from 'node:http';
import { rename, writeFile } from 'node:fs/promises';
import { withDb } from '../helpers/db.js';
import { buildAuthz, TEST_POLICY } from '../helpers/authz.js';
import { mintLive, newSigningKey } from '../helpers/tokens.js';
import { loadAuthzServiceConfig } from '../../services/authz-service/config.js';
import { AUDIENCE, ISSUER } from '../helpers/tokens.js';

const key = newSigningKey('ES256');
const nginx = (uri: string, method = 'GET', host = 'app.example.com') => ({ 'x-original-uri': uri, 'x-original-method': method, host });
const bearer = (tok: string) => ({ authorization: `Bearer ${tok}` });

const POLICY = `
rules:
  - { id: docs-public, effect: allow, public: true, paths: ["/docs/**"], methods: [GET] }
  - { id: staff-app, effect: allow, paths: ["/app/**", "/api/**", "/admin/**", "/office/**"], groups: [staff] }
  - { id: no-deletes-for-contractors, effect: deny, paths: ["/api/**"], methods: [DELETE], groups: [contractors] }
  - { id: drafts-not-readable, effect: deny, paths: ["/app/drafts/**"], methods: [GET] }
  - { id: admin-closed, effect: deny, paths: ["/admin/**"] }
  - { id: office-only, effect: deny, paths: ["/office/**"], notSourceIps: ["203.0.113.0/24"] }
  - { id: streets-closed, effect: deny, paths: ["/app/straße/**"] }
`;

t.test('methods: case-insensitive, GET covers HEAD, overrides refused unless allowed (then both methods must pass)', async (t) => {
  const db = await withDb(t);
  const strict = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: POLICY });
  const lenient = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: POLICY, env: { ALLOW_METHOD_OVERRIDE: 'true' } });
  const staff = await mintLive(db.kysely, key, { subject: 'alice@example.com', groups: ['staff'] });
  const contractor = await mintLive(db.kysely, key, { subject: 'bob@example.com', groups: ['staff', 'contractors'] });
  type Row = { name: string; app: 'strict' | 'lenient'; headers: Record<string, string>; status: number; reason?: string };
  const rows: Row[] = [
    { name: 'HEAD on a GET-only deny is denied', app: 'strict', headers: { ...nginx('/app/drafts/x', 'HEAD'), ...bearer(staff.token) }, status: 403, reason: 'explicit_deny' },
    { name: 'head (lower case) on a GET-only deny is denied', app: 'strict', headers: { ...nginx('/app/drafts/x', 'head'), ...bearer(staff.token) }, status: 403, reason: 'explicit_deny' },
    { name: 'POST on a GET-only deny is not denied by it', app: 'strict', headers: { ...nginx('/app/drafts/x', 'POST'), ...bearer(staff.token) }, status: 200 },
    { name: 'HEAD on a GET-only public rule is public', app: 'strict', headers: nginx('/docs/x', 'HEAD'), status: 200 },
    { name: 'dElEtE by a contractor', app: 'strict', headers: { ...nginx('/api/x', 'dElEtE'), ...bearer(contractor.token) }, status: 403, reason: 'explicit_deny' },
    { name: 'override refused by default, even for staff', app: 'strict', headers: { ...nginx('/api/x', 'POST'), 'x-http-method-override': 'PUT', ...bearer(staff.token) }, status: 403, reason: 'method_override' },
    { name: 'allowed overrides: POST + DELETE by a contractor, the deny sees DELETE', app: 'lenient', headers: { ...nginx('/api/x', 'POST'), 'x-http-method-override': 'DELETE', ...bearer(contractor.token) }, status: 403, reason: 'explicit_deny' },
    { name: 'allowed overrides: X-HTTP-Method: delete by a contractor', app: 'lenient', headers: { ...nginx('/api/x', 'POST'), 'x-http-method': 'delete', ...bearer(contractor.token) }, status: 403, reason: 'explicit_deny' },
    { name: 'allowed overrides: DELETE + POST override by a contractor, the deny sees DELETE', app: 'lenient', headers: { ...nginx('/api/x', 'DELETE'), 'x-method-override': 'POST', ...bearer(contractor.token) }, status: 403, reason: 'explicit_deny' },
    { name: 'allowed overrides: POST + DELETE by staff, both allowed', app: 'lenient', headers: { ...nginx('/api/x', 'POST'), 'x-http-method-override': 'DELETE', ...bearer(staff.token) }, status: 200 },
    { name: 'allowed overrides: an allow must hold for both (GET public, POST not)', app: 'lenient', headers: { ...nginx('/docs/x', 'GET'), 'x-http-method-override': 'POST' }, status: 401, reason: 'no_token' },
    { name: 'allowed overrides: two overrides that disagree', app: 'lenient', headers: { ...nginx('/api/x', 'POST'), 'x-http-method-override': 'PUT', 'x-http-method': 'DELETE', ...bearer(staff.token) }, status: 403, reason: 'method_override' },
  ];
  for (const row of rows) {
    const app = row.app === 'strict' ? strict.app : lenient.app;
    const res = await app.inject({ method: 'GET', url: '/auth', headers: row.headers });
    t.equal(res.statusCode, row.status, `${row.name}: ${row.status}`);
    t.equal(res.headers['x-auth-request-reason'], row.reason, `${row.name}: reason ${row.reason ?? 'none'}`);
  }
  t.equal(lenient.logs.find((l) => l.msg === 'ALLOW_METHOD_OVERRIDE=true: requests with a method-override header are decided for both methods').length, 1, 'the opt-in is logged at start');
  t.match(lenient.logs.find((l) => l.event === 'access_denied' && l.rule === 'no-deletes-for-contractors')[0], { method: 'POST+DELETE' }, 'the audit names both methods');
});

t.test('deny paths fold case as Java equalsIgnoreCase does (İ, ı, ẞ)', async (t) => {
  const db = await withDb(t);
  const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: POLICY });
  const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
  const rows: [target: string, why: string][] = [
    ['/ADMIN/x', 'ASCII upper case'],
    ['/adm%C4%B0n/x', 'U+0130 (İ): Java equalsIgnoreCase("İ", "i") is true'],
    ['/adm%C4%B1n/x', 'U+0131 (ı): upper-cases to I'],
    ['/app/stra%E1%BA%9Ee/x', 'U+1E9E (ẞ): Java equalsIgnoreCase("ẞ", "ß") is true'],
    ['/app/STRASSE/x', 'SS: upper case of ß'],
    ['/app/drafts/x', 'control for the GET deny'],
    ['/app/dra%C6%92ts/x', 'control: ƒ is not f'],
  ];
  const expected = [403, 403, 403, 403, 403, 403, 200];
  for (const [i, [target, why]] of rows.entries()) {
    const res = await app.inject({ method: 'GET', url: '/auth', headers: { ...nginx(target), ...bearer(staff.token) } });
    t.equal(res.statusCode, expected[i], `${why}: ${target} → ${expected[i]}`);
  }
});

t.test('audit events for refused paths keep neither the query nor ";" parameters', async (t) => {
  const db = await withDb(t);
  const plain = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: POLICY });
  const relaxed = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: POLICY, env: { PATH_RELAXATIONS: 'path-parameters' } });
  const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
  const secret = 'S3CR3T-value';
  const cases: [app: typeof plain, target: string, path: string, reason: string][] = [
    [plain, `/app/..%2fx?access_token=${secret}`, '/app/..%2fx', 'encoded_slash'],
    [plain, `/app/x;jsessionid=${secret}/y?X-Amz-Signature=${secret}`, '/app/x/y', 'path_parameter'],
    [plain, `/app/x%3Bjsessionid=${secret}`, '/app/x', 'path_parameter'],
    [plain, `/app/x/../y#${secret}`, '/app/x/../y', 'fragment'],
    [relaxed, `/admin/panel;jsessionid=${secret}?token=${secret}`, '/admin/panel', 'explicit_deny'],
  ];
  for (const [fixture, target, path, reason] of cases) {
    const res = await fixture.app.inject({ method: 'GET', url: '/auth', headers: { ...nginx(target), ...bearer(staff.token) } });
    t.equal(res.statusCode, 403, `${target}: 403`);
    const events = fixture.logs.find((l) => l.event === 'access_denied' && l.reason === reason);
    t.equal(events.at(-1)?.path, path, `${target}: audited as ${path}`);
  }
  t.notOk([...plain.logs.raw, ...relaxed.logs.raw].some((l) => l.includes(secret)), 'the secret is in no log line');
});

t.test('refusal headers: rule ids are not sent where the front end shows them to the client', async (t) => {
  const db = await withDb(t);
  const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
  const traefik = { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/admin/x' };
  const rows: [name: string, env: Record<string, string>, headers: Record<string, string>, reason: string | undefined, rule: string | undefined][] = [
    ['nginx (auth_request never shows them): reason and rule', {}, nginx('/admin/x'), 'explicit_deny', 'admin-closed'],
    ['ingress-nginx: reason and rule', { FRONT_END: 'ingress-nginx' }, { 'x-original-url': 'https://a.com/admin/x', 'x-original-method': 'GET', 'x-auth-request-redirect': '/admin/x' }, 'explicit_deny', 'admin-closed'],
    ['traefik (ForwardAuth returns them to the client): reason only', { FRONT_END: 'traefik' }, traefik, 'explicit_deny', undefined],
    ['envoy: reason only', { FRONT_END: 'envoy' }, { host: 'app.example.com' }, 'explicit_deny', undefined],
    ['traefik with REFUSAL_HEADERS=none', { FRONT_END: 'traefik', REFUSAL_HEADERS: 'none' }, traefik, undefined, undefined],
    ['traefik with REFUSAL_HEADERS=reason,rule', { FRONT_END: 'traefik', REFUSAL_HEADERS: 'reason,rule' }, traefik, 'explicit_deny', 'admin-closed'],
  ];
  for (const [name, env, headers, reason, rule] of rows) {
    const { app, logs } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: POLICY, env });
    const url = env.FRONT_END === 'envoy' ? '/auth/ext/admin/x' : '/auth';
    const res = await app.inject({ method: 'GET', url, headers: { ...headers, ...bearer(staff.token) } });
    t.equal(res.statusCode, 403, `${name}: 403`);
    t.equal(res.headers['x-auth-request-reason'], reason, `${name}: X-Auth-Request-Reason`);
    t.equal(res.headers['x-auth-request-rule'], rule, `${name}: X-Auth-Request-Rule`);
    t.equal(logs.find((l) => l.event === 'access_denied')[0]?.rule, 'admin-closed', `${name}: the audit names the rule anyway`);
  }
  t.throws(() => loadAuthzServiceConfig(baseEnv({ REFUSAL_HEADERS: 'reason,secrets' })), /REFUSAL_HEADERS: unknown entry "secrets"/);
});

t.test('client address: X-Real-IP is believed only behind the NGINX front ends', async (t) => {
  const db = await withDb(t);
  const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
  const office = '203.0.113.9';
  const rows: [name: string, frontEnd: string, headers: Record<string, string>, status: number][] = [
    ['nginx: X-Real-IP from the trusted proxy', 'nginx', { ...nginx('/office/x'), 'x-real-ip': office }, 200],
    ['envoy: a client-sent X-Real-IP is ignored', 'envoy', { host: 'app.example.com', 'x-real-ip': office }, 403],
    ['envoy: a client-sent X-Real-IP with an X-Forwarded-For from Envoy', 'envoy', { host: 'app.example.com', 'x-real-ip': office, 'x-forwarded-for': '198.51.100.7' }, 403],
    ['envoy: the X-Forwarded-For hop Envoy appended', 'envoy', { host: 'app.example.com', 'x-forwarded-for': office }, 200],
    ['traefik: a client-sent X-Real-IP is ignored', 'traefik', { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.com', 'x-forwarded-uri': '/office/x', 'x-real-ip': office }, 403],
  ];
  for (const [name, frontEnd, headers, status] of rows) {
    const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: POLICY, env: { FRONT_END: frontEnd, TRUSTED_PROXIES: '127.0.0.1/32' } });
    const url = frontEnd === 'envoy' ? '/auth/ext/office/x' : '/auth';
    const res = await app.inject({ method: 'GET', url, headers: { ...headers, ...bearer(staff.token) }, remoteAddress: '127.0.0.1' });
    t.equal(res.statusCode, status, `${name}: ${status}`);
  }
});

function baseEnv(over: Record<string, string>): Record<string, string> {
  return { DATABASE_URL: 'postgres://u@127.0.0.1/db', POLICY_FILE: '/nonexistent', JWT_PUBLIC_KEYS: key.publicPem, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, ...over };
}

t.test('configuration: very wide TRUSTED_PROXIES and plain-http JWKS_URL are refused', async (t) => {
  const refused: [name: string, env: Record<string, string>, message: RegExp][] = [
    ['0.0.0.0/0', { TRUSTED_PROXIES: '10.0.0.0/8,0.0.0.0/0' }, /TRUSTED_PROXIES: 0\.0\.0\.0\/0 is wider than \/8/],
    ['::/0', { TRUSTED_PROXIES: '::/0' }, /TRUSTED_PROXIES: ::\/0 is wider than \/8/],
    ['128.0.0.0/1', { TRUSTED_PROXIES: '128.0.0.0/1' }, /TRUSTED_PROXIES: 128\.0\.0\.0\/1 is wider/],
    ['::ffff:0.0.0.0/0 (mapped)', { TRUSTED_PROXIES: '::ffff:0.0.0.0/0' }, /TRUSTED_PROXIES: .* is wider/],
    ['JWKS over http to another host', { JWT_PUBLIC_KEYS: '', JWKS_URL: 'http://token-service.ns.svc/.well-known/jwks.json' }, /JWKS_URL: must be https/],
    ['JWKS over http to a host named like loopback', { JWT_PUBLIC_KEYS: '', JWKS_URL: 'http://127.0.0.1.evil.com/jwks' }, /JWKS_URL: must be https/],
  ];
  for (const [name, env, message] of refused) t.throws(() => loadAuthzServiceConfig(baseEnv(env)), { code: 'CONFIG_INVALID', message }, `refused: ${name}`);
  const accepted: [name: string, env: Record<string, string>][] = [
    ['10.0.0.0/8 (a cluster network)', { TRUSTED_PROXIES: '10.0.0.0/8' }],
    ['fd00::/8', { TRUSTED_PROXIES: 'fd00::/8' }],
    ['0.0.0.0/0 with TRUSTED_PROXIES_ALLOW_WIDE=true', { TRUSTED_PROXIES: '0.0.0.0/0', TRUSTED_PROXIES_ALLOW_WIDE: 'true' }],
    ['JWKS over https', { JWT_PUBLIC_KEYS: '', JWKS_URL: 'https://token-service.ns.svc/.well-known/jwks.json' }],
    ['JWKS over http to loopback', { JWT_PUBLIC_KEYS: '', JWKS_URL: 'http://127.0.0.1:8080/.well-known/jwks.json' }],
    ['JWKS over http to [::1]', { JWT_PUBLIC_KEYS: '', JWKS_URL: 'http://[::1]:8080/jwks' }],
    ['JWKS over http with JWKS_ALLOW_HTTP=true', { JWT_PUBLIC_KEYS: '', JWKS_URL: 'http://token-service/jwks', JWKS_ALLOW_HTTP: 'true' }],
  ];
  for (const [name, env] of accepted) t.doesNotThrow(() => loadAuthzServiceConfig(baseEnv(env)), `accepted: ${name}`);

  const db = await withDb(t);
  const { logs } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], env: { TRUSTED_PROXIES: '0.0.0.0/0', TRUSTED_PROXIES_ALLOW_WIDE: 'true' } });
  t.match(logs.find((l) => l.level === 40 && /TRUSTED_PROXIES holds a range wider than \/8/.test(String(l.msg))), [{ trusted_proxies: ['0.0.0.0/0'] }], 'the opt-in is a warning at start');
});

t.test('JWKS: a redirect is not followed', async (t) => {
  const db = await withDb(t);
  let targetHits = 0;
  const target = createServer((_req, res) => {
    targetHits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [key.jwk] }));
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => target.close(() => r())));
  const targetPort = (target.address() as { port: number }).port;
  const redirector = createServer((_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${targetPort}/jwks` }).end());
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => redirector.close(() => r())));
  const port = (redirector.address() as { port: number }).port;
  const { app, logs } = await buildAuthz(t, { databaseUrl: db.url, keys: [], env: { JWT_PUBLIC_KEYS: '', JWKS_URL: `http://127.0.0.1:${port}/jwks`, JWKS_MIN_REFRESH_SECONDS: '60' } });
  t.equal(app.authz.keys.loaded, false, 'no keys loaded');
  t.equal(targetHits, 0, 'the redirect target was never asked');
  t.ok(logs.find((l) => l.msg === 'JWKS refresh failed; keeping the keys we have').length >= 1, 'the failure is logged');
  const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
  const res = await app.inject({ method: 'GET', url: '/auth', headers: { ...nginx('/app/x'), ...bearer(staff.token) } });
  t.equal(res.statusCode, 401, 'a token is refused: no key came through the redirect');
  t.equal(res.headers['x-auth-request-reason'], 'unknown_key');
});

t.test('policy footguns: lint errors refuse the start and a reload; site-wide public rules warn', async (t) => {
  const db = await withDb(t);
  const networkOnly = 'rules:\n  - { id: office, effect: allow, paths: ["/redeem"], sourceIps: ["10.0.0.0/8"] }\n';
  const portScoped = 'rules:\n  - { id: admin-443, effect: deny, hosts: ["app.example.com:443"], paths: ["/admin/**"] }\n';
  await t.rejects(buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: networkOnly }), { code: 'POLICY_INVALID', message: /network_only_allow: rule "office" \(#1\)[\s\S]*POLICY_ALLOW_LINT_ERRORS/ }, 'network_only_allow refuses the start');
  await t.rejects(buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: portScoped }), { code: 'POLICY_INVALID', message: /host_with_port: rule "admin-443" \(#1\): host "app.example.com:443"/ }, 'a port-scoped host refuses the start');

  const forced = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: networkOnly, env: { POLICY_ALLOW_LINT_ERRORS: 'true' } });
  t.match(forced.logs.find((l) => l.level === 50 && l.code === 'network_only_allow'), [{ rule: 'office' }], 'the opt-in starts, logging the lint error as an error');

  const open = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: 'rules:\n  - { id: everything, effect: allow, public: true, paths: ["/**"] }\n' });
  t.match(open.logs.find((l) => l.level === 40 && l.code === 'site_wide_public'), [{ rule: 'everything' }], 'a site-wide public rule is a warning at start');

  const { app, logs, policyFile } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], env: { POLICY_RELOAD_SECONDS: '0' } });
  const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
  const ask = () => app.inject({ method: 'GET', url: '/auth', headers: { ...nginx('/app/x'), ...bearer(staff.token) } });
  t.equal((await ask()).statusCode, 200, 'the first policy allows /app/x');
  await writeFile(`${policyFile}.new`, `${TEST_POLICY}  - { id: office, effect: allow, paths: ["/redeem"], sourceIps: ["10.0.0.0/8"] }\n  - { id: x, effect: deny, paths: ["/app/**"] }\n`);
  await rename(`${policyFile}.new`, policyFile);
  t.equal(await app.authz.policy.reloadIfChanged(), false, 'a reload with a lint error is refused');
  t.equal((await ask()).statusCode, 200, 'the last good policy stays in force');
  const refused = logs.find((l) => l.msg === 'policy reload refused; keeping the last good policy');
  t.match(refused[0]?.problems, [/^network_only_allow: rule "office"/], 'the log names the lint error');
});
