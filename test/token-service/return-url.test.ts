import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';
import { allowedReturnUrl } from '../../services/token-service/routes/return-url.js';

const ALLOWED = [new URL('https://app.example.com/app'), new URL('https://docs.example.com/guide/'), new URL('https://root.example.com/')];

// One row per case: the candidate, and the URL redirected to (its encoded form) or null for a refusal.
const CASES: [string, string, string | null][] = [
  ['the entry itself', 'https://app.example.com/app', 'https://app.example.com/app'],
  ['below it', 'https://app.example.com/app/x?q=1#f', 'https://app.example.com/app/x?q=1#f'],
  ['a trailing slash', 'https://app.example.com/app/', 'https://app.example.com/app/'],
  ['the default port, normalised', 'https://app.example.com:443/app/x', 'https://app.example.com/app/x'],
  ['a sibling path sharing the prefix', 'https://app.example.com/application', null],
  ['a sibling path after ..%2f', 'https://app.example.com/app..%2fadmin', null],
  ['an encoded slash below the entry', 'https://app.example.com/app/..%2fadmin', null],
  ['an encoded slash, lower case', 'https://app.example.com/app/x%2fy', null],
  ['an encoded backslash', 'https://app.example.com/app/..%5cadmin', null],
  ['a double-encoded dot segment', 'https://app.example.com/app/%252e%252e/admin', null],
  ['a resolved dot-dot leaving the entry', 'https://app.example.com/app/../admin', null],
  ['an encoded dot-dot leaving the entry', 'https://app.example.com/app/%2e%2e/admin', null],
  ['a dot-dot resolved inside the entry', 'https://app.example.com/app/x/../y', 'https://app.example.com/app/y'],
  ['a dot-dot with path parameters (servlet containers)', 'https://app.example.com/app/..;/admin', null],
  ['a dot with path parameters', 'https://app.example.com/app/.;x/y', null],
  ['an encoded NUL', 'https://app.example.com/app/%00', null],
  ['encoded CR LF in the path', 'https://app.example.com/app/x%0d%0aSet-Cookie:a=b', null],
  ['encoded CR LF in the query stay encoded', 'https://app.example.com/app/x?a=%0d%0a', 'https://app.example.com/app/x?a=%0d%0a'],
  ['bytes that are not UTF-8', 'https://app.example.com/app/%ff', null],
  ['U+00FC (Latin-1)', 'https://app.example.com/app/\u00fc', 'https://app.example.com/app/%C3%BC'],
  ['U+0100 in the path', 'https://app.example.com/app/\u0100', 'https://app.example.com/app/%C4%80'],
  ['U+0100 in the query and fragment', 'https://app.example.com/app/x?q=\u0100#\u0100', 'https://app.example.com/app/x?q=%C4%80#%C4%80'],
  ['an emoji', 'https://app.example.com/app/\u{1F600}', 'https://app.example.com/app/%F0%9F%98%80'],
  ['U+2028 (a line separator: whitespace)', 'https://app.example.com/app/\u2028', null],
  ['a lone surrogate', 'https://app.example.com/app/\ud800', 'https://app.example.com/app/%EF%BF%BD'],
  ['a raw CR LF', 'https://app.example.com/app/x\r\nSet-Cookie: a=b', null],
  ['a raw NUL', 'https://app.example.com/app/\u0000', null],
  ['a raw tab', 'https://app.example.com/app/\tx', null],
  ['a raw space', 'https://app.example.com/app/ x', null],
  ['a C1 control', 'https://app.example.com/app/\u0085', null],
  ['a backslash', 'https://app.example.com/app\\..\\admin', null],
  ['overlong (2049 characters)', `https://app.example.com/app/${'a'.repeat(2049 - 28)}`, null],
  ['overlong once encoded', `https://app.example.com/app/${'\u0100'.repeat(400)}`, null],
  ['credentials', 'https://user:pw@app.example.com/app', null],
  ['another scheme', 'http://app.example.com/app', null],
  ['another host', 'https://evil.example/app', null],
  ['a look-alike host (IDN)', 'https://\u00e4pp.example.com/app', null],
  ['scheme-relative', '//app.example.com/app', null],
  ['relative', '/app/x', null],
  ['javascript:', 'javascript:alert(1)//https://app.example.com/app', null],
  ['an entry with a trailing slash: at it', 'https://docs.example.com/guide/', 'https://docs.example.com/guide/'],
  ['an entry with a trailing slash: without it', 'https://docs.example.com/guide', 'https://docs.example.com/guide'],
  ['an entry with a trailing slash: a sibling', 'https://docs.example.com/guidelines', null],
  ['a root entry: any path', 'https://root.example.com/a/b', 'https://root.example.com/a/b'],
  ['a root entry: still no encoded slash', 'https://root.example.com/a%2f..%2fb', null],
];

t.test('return URLs: segment-boundary match on the decoded path, the encoded form or a refusal', async (t) => {
  for (const [name, candidate, expected] of CASES) {
    t.equal(allowedReturnUrl(candidate, ALLOWED) ?? null, expected, name);
  }
  t.equal(CASES.length, new Set(CASES.map((c) => c[0])).size, 'every row is named once');
});

t.test('the ACS redirects to the encoded return URL, or refuses it before anything is spent; never a 500', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { RATE_LIMIT_MAX: '1000', ALLOWED_RETURN_URLS: 'https://app.test.example/app' } });
  const rows: [string, string, number, string | null][] = [
    ['U+0100', 'https://app.test.example/app/\u0100', 303, 'https://app.test.example/app/%C4%80'],
    ['an emoji in the query', 'https://app.test.example/app/x?q=\u{1F600}', 303, 'https://app.test.example/app/x?q=%F0%9F%98%80'],
    ['a raw CR LF', 'https://app.test.example/app/x\r\nX-Evil: 1', 400, null],
    ['a raw NUL', 'https://app.test.example/app/\u0000', 400, null],
    ['a raw tab', 'https://app.test.example/app/\tx', 400, null],
    ['an encoded slash', 'https://app.test.example/app/..%2fadmin', 400, null],
    ['a sibling path', 'https://app.test.example/application', 400, null],
    ['overlong', `https://app.test.example/app/${'a'.repeat(2100)}`, 400, null],
  ];
  for (const [name, relayState, status, location] of rows) {
    const { samlResponse, assertionId } = await svc.sign();
    const res = await postAcs(svc.app, samlResponse, { accept: 'text/html', relayState });
    t.equal(res.statusCode, status, `${name}: ${status}`);
    t.equal(res.headers.location ?? null, location, `${name}: Location`);
    t.notMatch(res.body, /ERR_|statusCode/, `${name}: no default error body`);
    const spent = await db.kysely.selectFrom('saml_assertions').select('assertion_id').where('assertion_id', '=', assertionId).execute();
    if (status === 303) {
      t.equal(spent.length, 1, `${name}: the assertion is spent once, for the token`);
      t.match(String(res.headers['set-cookie']), /^__Host-saml_authz=/, `${name}: the session cookie`);
    } else {
      t.equal(spent.length, 0, `${name}: nothing spent`);
      t.equal(res.headers['set-cookie'], undefined, `${name}: no cookie`);
      const retry = await postAcs(svc.app, samlResponse);
      t.equal(retry.statusCode, 200, `${name}: the same response is still redeemable (no replay)`);
    }
  }
});

t.test('/saml/login sends the encoded return URL as RelayState, or refuses it', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { ALLOWED_RETURN_URLS: 'https://app.test.example/app' } });
  const ok = await svc.app.inject(`/saml/login?rd=${encodeURIComponent('https://app.test.example/app/\u0100?q=\u{1F600}')}`);
  t.equal(ok.statusCode, 302);
  t.equal(new URL(String(ok.headers.location)).searchParams.get('RelayState'), 'https://app.test.example/app/%C4%80?q=%F0%9F%98%80');
  for (const rd of ['https://app.test.example/app..%2fadmin', 'https://app.test.example/app/%2e%2e/admin', 'https://app.test.example/app/\r\n']) {
    const res = await svc.app.inject(`/saml/login?rd=${encodeURIComponent(rd)}`);
    t.equal(res.statusCode, 400, `${JSON.stringify(rd)}: 400`);
    t.same(res.json(), { error: 'return_url_not_allowed', message: 'rd is not an allowed return URL' });
  }
  t.equal((await db.kysely.selectFrom('saml_requests').select('request_id').execute()).length, 1, 'only the allowed login wrote a request id');
});

t.test('a header Node refuses never turns into Fastify\'s default error body', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  // Routes that break the way item 5 did: a header value Node will not write.
  svc.app.get('/test/bad-location', async (_req, reply) => reply.code(303).header('location', 'https://app.test.example/\u0100').header('set-cookie', 'a=b').send());
  svc.app.get('/test/bad-header-then-4xx', async (_req, reply) => {
    reply.header('x-note', 'caf\u00e9\u0100');
    throw Object.assign(new Error('nope'), { statusCode: 409, code: 'CONFLICT' });
  });
  const res = await svc.app.inject('/test/bad-location');
  t.equal(res.statusCode, 500);
  t.same(res.json(), { error: 'internal_error', message: 'internal error' });
  t.equal(res.headers.location, undefined, 'no redirect on a 500');
  t.equal(res.headers['set-cookie'], undefined, 'no cookie on a 500');
  const conflict = await svc.app.inject('/test/bad-header-then-4xx');
  t.equal(conflict.statusCode, 409);
  t.same(conflict.json(), { error: 'conflict', message: 'nope' });
  t.equal(conflict.headers['x-note'], undefined, 'the unwritable header is dropped');
});
