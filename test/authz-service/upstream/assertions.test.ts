/**
 * The assertion cache on its own (no app): when an assertion is handed out again, when it is signed
 * anew, and what it holds, checked with jose (an independent JWT library) against the published JWKS.
 */
import t from 'tap';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { UpstreamAssertions, hostWithoutPort } from '../../../services/authz-service/upstream/assertions.js';
import type { UpstreamJwtConfig } from '../../../services/authz-service/upstream/config.js';
import type { VerifiedClaims } from '../../../services/shared/jwt-verify.js';
import { jwksDocument } from '../../../services/shared/jwt-keys.js';
import { newSigningKey } from '../../helpers/tokens.js';

const ISS = 'https://authz.test.example';
const T0 = 1_800_000_000_000; // a fixed clock (ms), whole seconds

function setup(over: Partial<UpstreamJwtConfig> = {}) {
  const config: UpstreamJwtConfig = { keys: [newSigningKey('ES256')], issuer: ISS, ttlSeconds: 60, all: false, cacheMaxEntries: 100, ...over };
  let signed = 0;
  const events: string[] = [];
  const a = new UpstreamAssertions(config, { onSigned: () => signed++, onEvent: (e) => events.push(e) });
  const jwks = createLocalJWKSet(JSON.parse(jwksDocument(config.keys)));
  return { a, config, jwks, signs: () => signed, events };
}

const claims = (o: Partial<VerifiedClaims> = {}): VerifiedClaims => ({
  subject: 'alice@example.com', jti: 'jti-1', exp: T0 / 1000 + 600, email: 'alice@example.com', groups: ['staff'], sid: null, idp: null, ...o,
});

t.test('handed out again until a third of its lifetime is left, then signed anew', async (t) => {
  const { a, signs, events } = setup();
  const first = a.get(claims(), 'app.example.com', T0);
  t.equal(signs(), 1);
  t.equal(a.get(claims(), 'app.example.com', T0 + 39_999), first, 'identical at 39.999 s (more than 20 s left)');
  t.equal(signs(), 1, 'no signing for a hit');
  const renewed = a.get(claims(), 'app.example.com', T0 + 40_000);
  t.not(renewed, first, 'renewed at 40 s');
  t.equal(signs(), 2);
  t.same(events, ['miss', 'hit', 'renewal']);
  t.equal(decodeJwt(renewed!).iat, T0 / 1000 + 40);
});

t.test('one assertion per (token, audience); another token or audience is signed for itself', async (t) => {
  const { a, signs, jwks } = setup();
  const x = a.get(claims(), 'app.example.com', T0)!;
  const y = a.get(claims(), 'orders-api', T0)!;
  const z = a.get(claims({ jti: 'jti-2' }), 'app.example.com', T0)!;
  t.equal(signs(), 3);
  t.equal(a.get(claims(), 'app.example.com', T0 + 1000), x);
  t.equal(a.get(claims(), 'orders-api', T0 + 1000), y);
  t.equal(a.get(claims({ jti: 'jti-2' }), 'app.example.com', T0 + 1000), z);
  t.equal(signs(), 3);
  const { payload } = await jwtVerify(y, jwks, { issuer: ISS, audience: 'orders-api', currentDate: new Date(T0) });
  t.equal(payload.aud, 'orders-api');
  await t.rejects(jwtVerify(y, jwks, { issuer: ISS, audience: 'app.example.com', currentDate: new Date(T0) }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' }, 'not for another audience');
});

t.test('claims: iss, aud, sub, email, groups, iat, exp; sid and idp only when the token has them', async (t) => {
  const { a, jwks, config } = setup();
  const plain = a.get(claims(), 'app.example.com', T0)!;
  const { payload, protectedHeader } = await jwtVerify(plain, jwks, { issuer: ISS, audience: 'app.example.com', currentDate: new Date(T0), algorithms: ['ES256'] });
  t.same(payload, { iss: ISS, aud: 'app.example.com', sub: 'alice@example.com', email: 'alice@example.com', groups: ['staff'], iat: T0 / 1000, exp: T0 / 1000 + 60 });
  t.same(protectedHeader, { alg: 'ES256', typ: 'JWT', kid: config.keys[0]!.kid });
  const full = a.get(claims({ jti: 'jti-s', sid: 'session-7', idp: 'https://idp-b.example', email: null, groups: [] }), 'app.example.com', T0)!;
  t.same(decodeJwt(full), { iss: ISS, aud: 'app.example.com', sub: 'alice@example.com', groups: [], sid: 'session-7', idp: 'https://idp-b.example', iat: T0 / 1000, exp: T0 / 1000 + 60 });
});

t.test('never past the user token: exp capped, reused until then, none in its last second', async (t) => {
  const { a, signs } = setup();
  const userExp = T0 / 1000 + 15;
  const x = a.get(claims({ exp: userExp }), 'h', T0)!;
  t.equal(decodeJwt(x).exp, userExp, 'exp = the user token exp (15 s < 60 s)');
  t.equal(a.get(claims({ exp: userExp }), 'h', T0 + 14_000), x, 'signing again would give the same exp: reused');
  t.equal(signs(), 1);
  t.equal(a.get(claims({ jti: 'late', exp: userExp }), 'h', T0 + 14_500), null, 'half a second left: no assertion');
  t.equal(a.get(claims({ exp: userExp }), 'h', userExp * 1000), null, 'at the user exp: none, not the cached one');
});

t.test('shorter UPSTREAM_JWT_TTL_SECONDS: exp - iat is the TTL, reuse until a third is left', async (t) => {
  const { a, signs } = setup({ ttlSeconds: 30 });
  const x = a.get(claims(), 'h', T0)!;
  const p = decodeJwt(x);
  t.equal(p.exp! - p.iat!, 30);
  t.equal(a.get(claims(), 'h', T0 + 19_999), x);
  t.not(a.get(claims(), 'h', T0 + 20_000), x);
  t.equal(signs(), 2);
});

t.test('revoke and clear drop assertions; a token id seen with another subject is signed anew', async (t) => {
  const { a, signs, events } = setup();
  const x = a.get(claims(), 'h', T0)!;
  a.revoke('jti-1');
  t.equal(a.size, 0);
  t.not(a.get(claims(), 'h', T0 + 1000), x, 'signed again after the revocation was dropped');
  a.clear();
  t.equal(a.size, 0);
  const y = a.get(claims(), 'h', T0 + 1000)!;
  const other = a.get(claims({ subject: 'mallory@example.com' }), 'h', T0 + 1000)!;
  t.not(other, y);
  t.equal(decodeJwt(other).sub, 'mallory@example.com');
  t.equal(signs(), 4);
  t.ok(events.includes('revoked'));
});

t.test('bounded: the oldest token goes first, and a token keeps at most 8 audiences', async (t) => {
  const { a, events } = setup({ cacheMaxEntries: 100 });
  for (let i = 0; i < 150; i++) a.get(claims({ jti: `j${i}` }), 'h', T0);
  t.equal(a.size, 100);
  t.equal(events.filter((e) => e === 'eviction').length, 50);
  const { a: b, signs } = setup();
  for (let i = 0; i < 20; i++) b.get(claims(), `aud-${i}`, T0);
  t.equal(signs(), 20);
  b.get(claims(), 'aud-19', T0);
  b.get(claims(), 'aud-12', T0);
  t.equal(signs(), 20, 'the 8 newest audiences are kept');
  b.get(claims(), 'aud-11', T0);
  t.equal(signs(), 21, 'an older one was forgotten');
});

t.test('default audience: the host without its port', async (t) => {
  const rows: [string, string][] = [
    ['app.example.com', 'app.example.com'],
    ['app.example.com:8443', 'app.example.com'],
    ['192.0.2.7:80', '192.0.2.7'],
    ['[2001:db8::1]', '[2001:db8::1]'],
    ['[2001:db8::1]:8080', '[2001:db8::1]'],
  ];
  for (const [host, aud] of rows) t.equal(hostWithoutPort(host), aud, host);
});

t.test('EdDSA and RS256 keys sign with their own algorithm', async (t) => {
  for (const alg of ['EdDSA', 'RS256'] as const) {
    const { a, jwks } = setup({ keys: [newSigningKey(alg)] });
    const { protectedHeader } = await jwtVerify(a.get(claims(), 'h', T0)!, jwks, { issuer: ISS, audience: 'h', currentDate: new Date(T0), algorithms: [alg] });
    t.equal(protectedHeader.alg, alg);
  }
});
