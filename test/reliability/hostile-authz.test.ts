/**
 * Hostile input at the authz-service /auth: random and mutated methods, hosts, paths, tokens, cookies
 * and extra headers (fast-check, fixed seed). The policy is tiny so the allowed set is known exactly:
 * GET /pub for anyone, GET /a/b for alice. The expectation is computed here independently and simply.
 * Plus time ratios (long paths, many headers, long tokens) and the bound on the liveness cache.
 */
import t from 'tap';
import fc from 'fast-check';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { mint, mintLive, newSigningKey } from '../helpers/tokens.js';

import { ALICE, TINY_POLICY } from './fixtures/fixtures.js';
import { medianMs } from './fixtures/timing.js';

/** 403 reasons that come from a decision (the rest are refusals of an unreadable request). */
const DECISION_REASONS = ['explicit_deny', 'no_matching_rule'];
const SEED = Number(process.env.FC_SEED ?? 20260409);
const RUNS = Number(process.env.FC_RUNS ?? 600);
const key = newSigningKey('ES256');
const otherKey = newSigningKey('ES256');

/** What the tiny policy allows, computed without the service's code: query dropped, decoded, slashes merged. */
function simplePath(raw: string): string | undefined {
  const noQuery = raw.split('?')[0]!.split('#')[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(noQuery);
  } catch {
    return undefined;
  }
  return decoded.replace(/\/+/g, '/');
}

const PATH_PIECES = ['/pub', '/a/b', '/a', '/b', '/', '//', '/.', '/..', '%2e', '%2E%2e', '%2f', '%2F', '%5c', '\\', '%00', ';', ';x=1', '?', '?q=/a/b', '#', '%25', '%2570ub', '%70ub', '%61', 'PUB', '/pub/', '/a/b/', '%c0%af', '%ef%bc%8f', 'ａ', '\u0000', ' ', '%20', '*', '..;', '/A/B', '/a%2fb'];
const pathArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...PATH_PIECES), { minLength: 1, maxLength: 6 }).map((p) => (p[0]!.startsWith('/') ? p.join('') : `/${p.join('')}`)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 3, arbitrary: fc.constantFrom('/pub', '/a/b', '/a/b?x=1', '//a//b', '/pub?', '/%61/b', '/a/c', '/pub/x', 'http://x/a/b', '') },
);
const methodArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant('GET') },
  { weight: 2, arbitrary: fc.constantFrom('get', 'Get', 'HEAD', 'POST', 'DELETE', 'GET ', ' GET', 'GET\t', 'OPTIONS', 'G\u0000ET', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);
const hostArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant('app.example.com') },
  { weight: 2, arbitrary: fc.constantFrom('APP.example.com', 'app.example.com:8443', '[::1]:80', '127.0.0.1', 'a@b', 'a b', 'a\\b', 'a#b', 'a?b', '', ':80', 'admin.example.com', 'x'.repeat(300)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

interface Tokens {
  alice: string;
  bob: string;
  aliceRevoked: string;
  aliceUnknown: string;
  aliceExpired: string;
  aliceOtherKey: string;
  aliceNone: string;
}

function tokenArb(tok: Tokens) {
  const mutate = (s: string) =>
    fc.oneof(
      fc.nat({ max: s.length - 1 }).chain((i) => fc.constantFrom('A', 'B', '-', '_', '.', '=', ' ').map((c) => s.slice(0, i) + c + s.slice(i + 1))),
      fc.nat({ max: s.length - 1 }).map((i) => s.slice(0, i)),
      fc.constant(`${s}.`),
      fc.constant(`${s}${s}`),
      fc.constant(s.split('.').slice(0, 2).join('.') + '.'),
      fc.constant(['eyJhbGciOiJub25lIn0', s.split('.')[1], ''].join('.')),
    );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(tok.alice) },
    { weight: 1, arbitrary: fc.constantFrom(tok.bob, tok.aliceRevoked, tok.aliceUnknown, tok.aliceExpired, tok.aliceOtherKey, tok.aliceNone) },
    { weight: 2, arbitrary: mutate(tok.alice) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/** Header values a real client can send (printable ASCII and tab), and names that are tokens. */
const headerValueArb = fc.string({ unit: fc.constantFrom(...'abcXYZ019 \t!#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~"'.split('')), maxLength: 40 });
const headerNameArb = fc.oneof(
  fc.constantFrom('x-original-url', 'x-forwarded-uri', 'x-forwarded-method', 'x-forwarded-host', 'x-forwarded-proto', 'x-original-uri', 'x-original-method', 'x-real-ip', 'x-forwarded-for', 'authorization', 'cookie', 'x-auth-request-user', 'x-request-id', 'forwarded', 'content-length', 'transfer-encoding'),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/),
);

interface Case {
  method: string;
  host: string;
  path: string;
  token: string | undefined;
  via: 'bearer' | 'cookie' | 'both' | 'lowercase-bearer' | 'cookie-dup';
  decoy: string | undefined;
  extra: [string, string][];
}

function build(c: Case): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { 'x-original-uri': c.path, 'x-original-method': c.method, host: c.host };
  if (c.token !== undefined) {
    if (c.via === 'bearer' || c.via === 'both') headers.authorization = `Bearer ${c.token}`;
    if (c.via === 'lowercase-bearer') headers.authorization = `bearer ${c.token}`;
    if (c.via === 'cookie' || c.via === 'both') headers.cookie = `a=1; __Host-saml_authz=${c.token}; b=2`;
    if (c.via === 'cookie-dup') headers.cookie = `__Host-saml_authz=${c.decoy ?? 'x'}; __Host-saml_authz=${c.token}`;
  }
  for (const [name, value] of c.extra) {
    const prev = headers[name];
    headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return headers;
}

const OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/**
 * The allowed set, exactly: GET /pub for anyone; GET /a/b only when alice's live token was presented.
 * Methods compare case-insensitively and a rule naming GET covers HEAD; a method-override header is refused.
 */
function mayAllow(c: Case, headers: Record<string, string | string[]>, tok: Tokens): boolean {
  const method = headers['x-original-method'];
  const raw = headers['x-original-uri'];
  if (typeof method !== 'string' || !['GET', 'HEAD'].includes(method.toUpperCase()) || typeof raw !== 'string') return false;
  if (OVERRIDES.some((h) => headers[h] !== undefined)) return false;
  const path = simplePath(raw);
  if (path === '/pub') return true;
  if (path !== '/a/b') return false;
  const carried = [headers.authorization, headers.cookie].flat().filter((v): v is string => typeof v === 'string');
  return carried.some((v) => v.includes(tok.alice)) && c.token === tok.alice;
}

async function tokens(t: Parameters<typeof withDb>[0]) {
  const db = await withDb(t);
  const now = Math.floor(Date.now() / 1000);
  const tok: Tokens = {
    alice: (await mintLive(db.kysely, key, { subject: ALICE, groups: ['staff'] })).token,
    bob: (await mintLive(db.kysely, key, { subject: 'bob@example.com', email: 'bob@example.com' })).token,
    aliceRevoked: '',
    aliceUnknown: mint(key, { subject: ALICE }).token,
    aliceExpired: mint(key, { subject: ALICE, iat: now - 600, nbf: now - 600, exp: now - 300 }).token,
    aliceOtherKey: mint(otherKey, { subject: ALICE }).token,
    aliceNone: '',
  };
  const revoked = await mintLive(db.kysely, key, { subject: ALICE });
  await db.pool.query('update issued_tokens set revoked_at = now() where jti = $1', [revoked.jti]);
  tok.aliceRevoked = revoked.token;
  const p = tok.alice.split('.')[1];
  tok.aliceNone = `${Buffer.from(JSON.stringify({ alg: 'none', kid: key.kid })).toString('base64url')}.${p}.`;
  return { db, tok };
}

t.test(`/auth: random and mutated requests never get a 5xx nor a 2xx the tiny policy does not allow (seed ${SEED}, ${RUNS} runs)`, async (t) => {
  const { db, tok } = await tokens(t);
  const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: TINY_POLICY, env: { ACCESS_LOG: 'false', CACHE_TTL_SECONDS: '60' } });
  const caseArb: fc.Arbitrary<Case> = fc.record({
    method: methodArb,
    host: hostArb,
    path: pathArb,
    token: tokenArb(tok),
    via: fc.constantFrom('bearer', 'cookie', 'both', 'lowercase-bearer', 'cookie-dup'),
    decoy: fc.option(fc.constantFrom(tok.bob, tok.aliceRevoked, 'garbage'), { nil: undefined }),
    extra: fc.oneof({ weight: 3, arbitrary: fc.constant([] as [string, string][]) }, { weight: 2, arbitrary: fc.array(fc.tuple(headerNameArb, headerValueArb), { minLength: 1, maxLength: 4 }) }),
  });
  const statuses: Record<number, number> = {};
  const allowedSeen: string[] = [];
  /** refusals before any rule (unreadable request): 403 with a reason that is not a decision's */
  const refusalReasons: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const headers = build(c);
      let res;
      try {
        res = await app.inject({ method: 'GET', url: '/auth', headers });
      } catch (err) {
        // light-my-request refuses a header a real HTTP client could not send either: not a service answer.
        if ((err as { code?: string }).code === 'ERR_INVALID_CHAR' || (err as { code?: string }).code === 'ERR_HTTP_INVALID_HEADER_VALUE') return;
        throw err;
      }
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      const reason = String(res.headers['x-auth-request-reason']);
      if (res.statusCode === 403 && !DECISION_REASONS.includes(reason)) refusalReasons[reason] = (refusalReasons[reason] ?? 0) + 1;
      if (res.statusCode >= 500) throw new Error(`5xx: ${res.statusCode} ${reason} ${res.body}`);
      if (![200, 401, 403].includes(res.statusCode)) throw new Error(`unexpected status ${res.statusCode} (a client-caused refusal is 401 or 403)`);
      if (res.statusCode === 200) {
        if (!mayAllow(c, headers, tok)) throw new Error(`allowed a request the policy does not allow: ${res.statusCode}`);
        const path = simplePath(c.path);
        allowedSeen.push(path ?? '?');
        if (path === '/a/b' && res.headers['x-auth-request-user'] !== ALICE) throw new Error('allowed /a/b without naming alice');
      }
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  t.comment(`statuses: ${JSON.stringify(statuses)}; allowed: ${JSON.stringify(countBy(allowedSeen))}; unreadable-request reasons: ${JSON.stringify(refusalReasons)}`);
  t.ok((statuses[200] ?? 0) > 0 && (statuses[401] ?? 0) > 0 && (statuses[403] ?? 0) > 0 && Object.keys(refusalReasons).length > 0, 'the generator reaches every outcome (and unreadable requests)');
  t.ok(allowedSeen.includes('/a/b'), 'the generator reaches the identity-only route');
});

t.test('/auth cost grows at most linearly with path length, header count and token length', async (t) => {
  const { db, tok } = await tokens(t);
  const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: TINY_POLICY, env: { ACCESS_LOG: 'false' } });
  const call = (headers: Record<string, string>) => () => app.inject({ method: 'GET', url: '/auth', headers: { 'x-original-method': 'GET', host: 'app.example.com', authorization: `Bearer ${tok.alice}`, 'x-original-uri': '/a/b', ...headers } });
  const shapes: [string, (n: number) => Record<string, string>][] = [
    ['plain segments', (n) => ({ 'x-original-uri': '/a'.repeat(n / 2) })],
    ['escaped bytes', (n) => ({ 'x-original-uri': `/${'%41'.repeat(n / 3)}` })],
    ['repeated slashes', (n) => ({ 'x-original-uri': `${'/'.repeat(n - 4)}a/b` })],
    ['deep wildcard-ish path', (n) => ({ 'x-original-uri': `/a/b${'/x'.repeat(n / 2 - 2)}` })],
    ['query string', (n) => ({ 'x-original-uri': `/a/b?${'q=1&'.repeat(n / 4)}` })],
    ['long cookie header', (n) => ({ cookie: Array.from({ length: n / 8 }, (_, i) => `c${i}=vvv`).join('; ') })],
    ['long bearer token', (n) => ({ authorization: `Bearer ${'A'.repeat(n)}` })],
  ];
  const SMALL = 1024;
  const LARGE = 8 * 1024;
  for (const [name, make] of shapes) {
    const small = await medianMs(call(make(SMALL)), 40);
    const large = await medianMs(call(make(LARGE)), 40);
    const ratio = large / small;
    t.ok(ratio < 16, `${name}: 8 KB / 1 KB = ${ratio.toFixed(2)} (${small.toFixed(3)} ms → ${large.toFixed(3)} ms; linear ≤ 8, quadratic ≈ 64)`);
  }
  const manyHeaders = (n: number) => () => {
    const headers: Record<string, string> = { 'x-original-uri': '/a/b', 'x-original-method': 'GET', host: 'app.example.com', authorization: `Bearer ${tok.alice}` };
    for (let i = 0; i < n; i++) headers[`x-extra-${i}`] = 'v';
    return app.inject({ method: 'GET', url: '/auth', headers });
  };
  const few = await medianMs(manyHeaders(12), 40);
  const many = await medianMs(manyHeaders(96), 40);
  t.ok(many / few < 16, `96 / 12 headers = ${(many / few).toFixed(2)} (${few.toFixed(3)} ms → ${many.toFixed(3)} ms)`);
});

t.test('a flood of distinct well-signed unknown tokens keeps the liveness cache within CACHE_MAX_ENTRIES', async (t) => {
  const db = await withDb(t);
  const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: TINY_POLICY, env: { ACCESS_LOG: 'false', CACHE_MAX_ENTRIES: '100' } });
  const ask = (token: string) => app.inject({ method: 'GET', url: '/auth', headers: { 'x-original-uri': '/a/b', 'x-original-method': 'GET', host: 'h', authorization: `Bearer ${token}` } });
  let maxSize = 0;
  for (let batch = 0; batch < 5; batch++) {
    const res = await Promise.all(Array.from({ length: 100 }, () => ask(mint(key, { subject: ALICE }).token)));
    t.same(new Set(res.map((r) => r.statusCode)), new Set([401]), `batch ${batch}: all refused`);
    maxSize = Math.max(maxSize, app.authz.liveness.size);
  }
  t.ok(maxSize <= 100, `cache size stayed ≤ 100 (max ${maxSize}) after 500 distinct tokens`);
});

function countBy(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
}


