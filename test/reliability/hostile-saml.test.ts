/**
 * Hostile SAML documents and requests at the token-service (fast-check, fixed seed): valid responses
 * with bytes flipped inside the signed assertion, truncated, re-encoded, oversized, deeply nested; random
 * bodies, content types and headers. Never a 5xx, never a token for a document that is not valid,
 * no token row written; time grows at most linearly with nesting depth and size.
 */
import t from 'tap';
import fc from 'fast-check';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';
import { ALICE, claimsOf } from './fixtures/fixtures.js';
import { medianMs } from './fixtures/timing.js';

const SEED = Number(process.env.FC_SEED ?? 20260409);
const RUNS = Number(process.env.FC_RUNS_SAML ?? 250);
const MAX_BYTES = 262_144;
const env = { ACCESS_LOG: 'false', RATE_LIMIT_MAX: '1000000' };
const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

interface Mutant {
  kind: string;
  body: string;
}
/** A mutated document that prints as its recipe (fast-check shows it on failure), not as 300 KB of base64. */
const mutant = (kind: string, body: string, recipe: unknown = ''): Mutant =>
  Object.assign({ kind, body }, { [fc.toStringMethod]: () => `${kind}(${JSON.stringify(recipe)}) ${body.length} chars` });

/**
 * Byte positions of the signed assertion whose change must break it: inside <saml:Assertion>, outside
 * its <ds:Signature> (KeyInfo and SignatureValue have other rules) and outside namespace declarations
 * that exclusive canonicalisation drops (xmlns:xs is used only in an attribute value).
 */
function signedPositions(xml: string): number[] {
  const start = xml.indexOf('<saml:Assertion');
  const end = xml.indexOf('</saml:Assertion>') + '</saml:Assertion>'.length;
  const sigStart = xml.indexOf('<ds:Signature');
  const sigEnd = xml.indexOf('</ds:Signature>') + '</ds:Signature>'.length;
  const dropped: [number, number][] = [];
  for (const m of xml.matchAll(/ xmlns:xs="[^"]*"/g)) dropped.push([m.index, m.index + m[0].length]);
  const out: number[] = [];
  for (let i = start; i < end; i++) {
    if (i >= sigStart && i < sigEnd) continue;
    if (dropped.some(([a, b]) => i >= a && i < b)) continue;
    if (WS.has(xml.charCodeAt(i))) continue;
    out.push(i);
  }
  return out;
}

t.test(`/saml/acs: mutated valid responses never yield a token (seed ${SEED}, ${RUNS} runs)`, async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env });
  const base = await svc.sign({ notOnOrAfter: new Date(Date.now() + 30 * 60_000), subjectNotOnOrAfter: new Date(Date.now() + 30 * 60_000) });
  const xml = Buffer.from(base.samlResponse, 'base64').toString('utf8');
  const positions = signedPositions(xml);
  const lastGt = xml.lastIndexOf('>');
  const nestAt = xml.indexOf('</saml:NameID>');

  const flip = fc
    .tuple(fc.constantFrom(...positions), fc.integer({ min: 0x21, max: 0x7e }))
    .filter(([i, c]) => xml.charCodeAt(i) !== c)
    .map(([i, c]) => mutant('flip', b64(xml.slice(0, i) + String.fromCharCode(c) + xml.slice(i + 1)), [i, xml[i], String.fromCharCode(c)]));
  const multiFlip = fc
    .array(fc.tuple(fc.constantFrom(...positions), fc.integer({ min: 0, max: 255 })), { minLength: 2, maxLength: 8 })
    .map((flips) => {
      const bytes = Buffer.from(xml);
      let changed = false;
      for (const [i, c] of flips) {
        if (WS.has(c) || bytes[i] === c) continue;
        bytes[i] = c;
        changed = true;
      }
      return mutant(changed ? 'multi-flip' : 'skip', b64(bytes), flips);
    });
  const truncate = fc.integer({ min: 1, max: lastGt }).map((n) => mutant('truncate', b64(xml.slice(0, n)), n));
  const reencode = fc.constantFrom<Mutant>(
    mutant('utf16le-bom', b64(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]))),
    mutant('utf16le', b64(Buffer.from(xml, 'utf16le'))),
    mutant('latin1-declared', b64(`<?xml version="1.0" encoding="ISO-8859-1"?>${xml}`)),
    mutant('base64url', Buffer.from(xml).toString('base64url')),
    mutant('double-base64', b64(base.samlResponse)),
    mutant('no-padding', base.samlResponse.replace(/=+$/, '') + (base.samlResponse.endsWith('=') ? '' : 'A')),
    mutant('percent-encoded', encodeURIComponent(base.samlResponse)),
    mutant('deflated-header', `x${base.samlResponse}`),
    mutant('doctype', b64(`<!DOCTYPE r [<!ENTITY e "alice@example.com">]>${xml}`)),
    mutant('second-assertion', b64(xml.replace('</samlp:Response>', `${xml.slice(xml.indexOf('<saml:Assertion'), xml.indexOf('</saml:Assertion>') + 17).replace(ALICE, 'mallory@example.com')}</samlp:Response>`))),
  );
  const oversized = fc.integer({ min: MAX_BYTES - xml.length + 1, max: MAX_BYTES }).map((pad) => mutant('oversized', b64(`${xml}${' '.repeat(pad)}`), pad));
  const nested = fc.integer({ min: 1, max: 600 }).map((d) => mutant('nested', b64(xml.slice(0, nestAt) + '<x>'.repeat(d) + '</x>'.repeat(d) + xml.slice(nestAt)), d));
  const randomBody = fc.oneof(
    fc.string({ minLength: 1, maxLength: 200 }).map((s) => mutant('random-string', s, s)),
    fc.uint8Array({ minLength: 1, maxLength: 400 }).map((u) => mutant('random-bytes', b64(Buffer.from(u)), u.length)),
  );

  const statuses: Record<string, number> = {};
  let slowest = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(flip, flip, multiFlip, truncate, reencode, oversized, nested, randomBody), async ({ kind, body }) => {
      if (kind === 'skip') return;
      const t0 = performance.now();
      const res = await postAcs(svc.app, body);
      slowest = Math.max(slowest, performance.now() - t0);
      const k = `${kind}:${res.statusCode}`;
      statuses[k] = (statuses[k] ?? 0) + 1;
      if (res.statusCode >= 500) throw new Error(`${kind}: ${res.statusCode} ${res.body}`);
      if (res.statusCode < 400 || res.statusCode >= 500) throw new Error(`${kind}: token or redirect for an invalid document: ${res.statusCode} ${res.body}`);
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  t.comment(`outcomes: ${JSON.stringify(statuses)}; slowest request ${slowest.toFixed(0)} ms`);
  const rows = await db.kysely.selectFrom('issued_tokens').select('jti').execute();
  t.equal(rows.length, 0, 'no token row was written');
  // Positive control: the untouched document is valid (the mutants were refused for their mutation).
  t.equal((await postAcs(svc.app, base.samlResponse)).statusCode, 200, 'the original document is accepted');
});

t.test('valid encodings a client may legitimately send are accepted; a comment in the NameID does not change whose token it is', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env });
  const wrapped = (await svc.sign()).samlResponse.replace(/(.{76})/g, '$1\r\n');
  t.equal((await postAcs(svc.app, wrapped)).statusCode, 200, 'base64 with MIME line breaks is accepted');

  // The classic comment-injection: the IdP signs "alice@example.com.evil.test"; a comment splits the
  // text node. Canonicalisation drops comments, so the signature still verifies: the token must name
  // the whole text, never the part before the comment.
  const signed = await svc.sign({ nameId: 'alice@example.com.evil.test', email: 'x@evil.test' });
  const xml = Buffer.from(signed.samlResponse, 'base64').toString('utf8').replace('alice@example.com.evil.test', 'alice@example.com<!---->.evil.test');
  const res = await postAcs(svc.app, b64(xml));
  if (res.statusCode === 200) t.equal(claimsOf((res.json() as { access_token: string }).access_token).sub, 'alice@example.com.evil.test', 'the subject is the whole NameID');
  else t.equal(res.statusCode, 401, 'or the document is refused');
});

t.test('/saml/acs and the other routes: random bodies, content types and headers never get a 5xx', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env });
  const valid = (await svc.sign()).samlResponse;
  const ctArb = fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-16', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml', '', 'a/b; c', 'application/x-www-form-urlencoded;;;');
  const bodyArb = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.constantFrom('SAMLResponse=', 'SAMLResponse=a&SAMLResponse=b', `SAMLResponse=${encodeURIComponent(valid)}&Extra=1`, 'RelayState=x', `SAMLResponse=${encodeURIComponent(valid)}&RelayState=javascript:alert(1)`, `SAMLResponse=${encodeURIComponent(valid)}&RelayState=//evil.test/`, '{"SAMLResponse":"x"}', 'SAMLResponse[]=x', 'SAMLResponse=%', '%%%', '&&&=&='),
  );
  const routeArb = fc.constantFrom(['POST', '/saml/acs'], ['POST', '/logout'], ['GET', '/saml/login'], ['GET', '/saml/metadata'], ['GET', '/.well-known/jwks.json'], ['GET', '/readyz'], ['PUT', '/saml/acs'], ['POST', '/saml/acs?x=%']);
  const queryArb = fc.oneof(fc.constant(''), fc.string({ maxLength: 30 }).map((s) => `?rd=${encodeURIComponent(s)}`), fc.constantFrom('?rd=https://evil.test/', '?rd=%', '?rd=a&rd=b', '?rd=javascript:x'));
  const headerArb = fc.record({
    accept: fc.constantFrom('application/json', 'text/html', '*/*', '', 'text/html;q=0, application/json'),
    authorization: fc.oneof(fc.constant(undefined), fc.string({ unit: fc.constantFrom(...'Bearer abcxyz.-_=0123'.split('')), maxLength: 60 })),
    cookie: fc.oneof(fc.constant(undefined), fc.string({ unit: fc.constantFrom(...'saml_authz=;., abc'.split('')), maxLength: 60 })),
  });
  const statuses: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(routeArb, queryArb, ctArb, bodyArb, headerArb, async ([method, path], query, ct, body, h) => {
      const headers: Record<string, string> = { accept: h.accept };
      if (ct) headers['content-type'] = ct;
      if (h.authorization !== undefined) headers.authorization = h.authorization;
      if (h.cookie !== undefined) headers.cookie = h.cookie;
      const res = await svc.app.inject({ method: method as 'GET' | 'POST' | 'PUT', url: `${path}${query}`, headers, ...(method === 'GET' ? {} : { payload: body }) });
      const k = `${method} ${path}:${res.statusCode}`;
      statuses[k] = (statuses[k] ?? 0) + 1;
      if (res.statusCode >= 500 && !(path === '/readyz' && res.statusCode === 503)) throw new Error(`${method} ${path}${query} (${ct}): ${res.statusCode} ${res.body}`);
      if (path === '/logout' && res.statusCode === 204) throw new Error('logout accepted a random token');
      if (res.statusCode === 303 && !String(res.headers.location).startsWith('https://app.test.example/')) throw new Error(`open redirect to ${String(res.headers.location)}`);
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  t.comment(`outcomes: ${JSON.stringify(statuses)}`);
  t.pass('no 5xx, no logout by a random token, no redirect outside ALLOWED_RETURN_URLS');
});

t.test('deeply nested XML, inside or outside the signed assertion, is refused without a 5xx', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env });
  const xml = Buffer.from((await svc.sign()).samlResponse, 'base64').toString('utf8');
  const nestAt = xml.indexOf('</saml:NameID>');
  for (const depth of [100, 1000, 5000, 10_000, 20_000, 27_000]) {
    const inside = b64(xml.slice(0, nestAt) + '<x>'.repeat(depth) + '</x>'.repeat(depth) + xml.slice(nestAt));
    const outside = b64(xml.replace('<samlp:Status>', `${'<x>'.repeat(depth)}${'</x>'.repeat(depth)}<samlp:Status>`));
    for (const [where, body] of [['inside the signed assertion', inside], ['in the unsigned response', outside]] as const) {
      const res = await postAcs(svc.app, body);
      t.equal(res.statusCode, depth > 64 ? 401 : res.statusCode, `depth ${depth} ${where}: refused (${res.statusCode})`);
      t.ok(res.statusCode < 500, `depth ${depth} ${where}: no 5xx`);
      if (where === 'inside the signed assertion') t.not(res.statusCode, 200, `depth ${depth}: no token for a changed signed element`);
    }
  }
});

t.test('/saml/acs cost grows at most linearly with nesting depth and document size', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env });
  const xml = Buffer.from((await svc.sign()).samlResponse, 'base64').toString('utf8');
  const at = xml.indexOf('</saml:NameID>');
  const nest = (d: number) => b64(xml.slice(0, at) + '<x>'.repeat(d) + '</x>'.repeat(d) + xml.slice(at));
  const pad = (n: number) => b64(xml.replace('</saml:NameID>', `${'a'.repeat(n)}</saml:NameID>`));
  for (const [name, small, large, factor] of [
    ['nesting depth 1 000 → 4 000', nest(1000), nest(4000), 4],
    ['text 45 KB → 180 KB', pad(45_000), pad(180_000), 4],
  ] as const) {
    const ms = await medianMs(() => postAcs(svc.app, small), 4);
    const ml = await medianMs(() => postAcs(svc.app, large), 4);
    t.equal((await postAcs(svc.app, large)).statusCode, 401, `${name}: refused`);
    t.ok(ml / ms < 2.5 * factor, `${name}: ${(ml / ms).toFixed(2)}× for ${factor}× the input (${ms.toFixed(1)} ms → ${ml.toFixed(1)} ms; linear ≈ ${factor}, quadratic ≈ ${factor * factor})`);
  }
});
