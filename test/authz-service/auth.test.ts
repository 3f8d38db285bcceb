import t from 'tap';
import { createHmac } from 'node:crypto';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { mint, mintLive, newSigningKey } from '../helpers/tokens.js';
import { insertToken } from '../../services/token-service/store/tokens.js';

const key = newSigningKey('ES256');
const nginx = (uri: string, method = 'GET', host = 'app.example.com') => ({
  'x-original-uri': uri,
  'x-original-method': method,
  host,
});

t.test('nginx front end: allow, deny, unauthenticated, unreadable request (403), no original request (500)', async (t) => {
  const db = await withDb(t);
  const { app, logs } = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const staff = await mintLive(db.kysely, key, { subject: 'alice@example.com', groups: ['staff'] });
  const contractor = await mintLive(db.kysely, key, { subject: 'bob@example.com', email: 'bob@example.com', groups: ['staff', 'contractors'] });
  const bearer = (tok: string) => ({ authorization: `Bearer ${tok}` });

  const rows: { name: string; headers: Record<string, string>; method?: string; rawDuplicate?: string; status: number; reason?: string; rule?: string }[] = [
    { name: 'public docs without a token', headers: nginx('/docs/intro'), status: 200 },
    { name: 'staff route without a token', headers: nginx('/app/home'), status: 401, reason: 'no_token' },
    { name: 'staff route with a staff bearer token', headers: { ...nginx('/app/home'), ...bearer(staff.token) }, status: 200 },
    { name: 'staff route with the session cookie', headers: { ...nginx('/app/home'), cookie: `other=1; __Host-saml_authz=${staff.token}` }, status: 200 },
    { name: 'admin host for a non-admin', headers: { ...nginx('/', 'GET', 'admin.example.com'), ...bearer(staff.token) }, status: 403, reason: 'no_matching_rule' },
    { name: 'DELETE /api for a contractor', headers: { ...nginx('/api/x', 'DELETE'), ...bearer(contractor.token) }, status: 403, reason: 'explicit_deny', rule: 'no-deletes-for-contractors' },
    { name: 'DELETE /api for staff', headers: { ...nginx('/api/x', 'DELETE'), ...bearer(staff.token) }, status: 200 },
    { name: 'explicit deny wins over the staff allow', headers: { ...nginx('/app/secrets/k'), ...bearer(staff.token) }, status: 403, reason: 'explicit_deny', rule: 'secrets-never' },
    { name: 'deny matches case-insensitively', headers: { ...nginx('/app/SECRETS/k'), ...bearer(staff.token) }, status: 403, reason: 'explicit_deny', rule: 'secrets-never' },
    { name: 'no original URI: a misconfigured front end, the only 5xx', headers: { 'x-original-method': 'GET', host: 'app.example.com' }, status: 500, reason: 'missing_original_request' },
    { name: 'encoded slash', headers: { ...nginx('/app/..%2fsecrets/k'), ...bearer(staff.token) }, status: 403, reason: 'encoded_slash' },
    { name: 'dot-dot into a denied area', headers: { ...nginx('/app/x/../secrets/k'), ...bearer(staff.token) }, status: 403, reason: 'dot_segment' },
    { name: 'forged traefik header disagreeing', headers: { ...nginx('/app/home'), 'x-forwarded-uri': '/docs/x', ...bearer(staff.token) }, status: 403, reason: 'conflicting_front_end_headers' },
    { name: 'odd host', headers: { ...nginx('/docs/x', 'GET', 'evil.com\\@app.example.com') }, status: 403, reason: 'bad_host' },
    { name: 'a method that is not a token', headers: { ...nginx('/docs/x', 'GET /x'), ...bearer(staff.token) }, status: 403, reason: 'bad_method' },
    { name: 'a repeated X-Original-URI', headers: { ...nginx('/docs/x'), ...bearer(staff.token) }, rawDuplicate: 'x-original-uri', status: 403, reason: 'ambiguous_header' },
    { name: 'DELETE written lower case is still DELETE', headers: { ...nginx('/api/x', 'delete'), ...bearer(contractor.token) }, status: 403, reason: 'explicit_deny', rule: 'no-deletes-for-contractors' },
    { name: 'DELETE written mixed case is still DELETE', headers: { ...nginx('/api/x', 'Delete'), ...bearer(contractor.token) }, status: 403, reason: 'explicit_deny', rule: 'no-deletes-for-contractors' },
    { name: 'POST with X-HTTP-Method-Override: DELETE', headers: { ...nginx('/api/x', 'POST'), 'x-http-method-override': 'DELETE', ...bearer(contractor.token) }, status: 403, reason: 'method_override' },
    { name: 'POST with X-HTTP-Method: DELETE', headers: { ...nginx('/api/x', 'POST'), 'x-http-method': 'DELETE', ...bearer(staff.token) }, status: 403, reason: 'method_override' },
    { name: 'POST with X-Method-Override: delete', headers: { ...nginx('/api/x', 'POST'), 'x-method-override': 'delete', ...bearer(staff.token) }, status: 403, reason: 'method_override' },
    { name: 'a method override on a public route', headers: { ...nginx('/docs/x', 'GET'), 'x-http-method-override': 'GET' }, status: 403, reason: 'method_override' },
  ];
  for (const row of rows) {
    const headers: Record<string, string | string[]> = { ...row.headers };
    if (row.rawDuplicate) headers[row.rawDuplicate] = [row.headers[row.rawDuplicate]!, '/app/x'];
    const res = await app.inject({ method: row.method ?? 'GET', url: '/auth', headers });
    t.equal(res.statusCode, row.status, `${row.name}: status`);
    if (row.reason) t.equal(res.headers['x-auth-request-reason'], row.reason, `${row.name}: reason`);
    if (row.status === 403) t.equal(res.headers['x-auth-request-rule'], row.rule, `${row.name}: deciding rule`);
    if (row.status === 500) t.equal(res.headers['x-auth-request-rule'], undefined, `${row.name}: no rule`);
    if (row.status !== 200) t.equal(res.body, '', `${row.name}: no body`);
    if (row.status === 401) t.equal(res.headers['www-authenticate'], 'Bearer realm="saml-authz"', `${row.name}: WWW-Authenticate`);
    if (row.status !== 200) t.notOk(res.headers['x-auth-request-user'], `${row.name}: no identity headers`);
  }

  const ok = await app.inject({ method: 'GET', url: '/auth', headers: { ...nginx('/app/home'), ...bearer(staff.token) } });
  t.equal(ok.headers['x-auth-request-user'], 'alice@example.com');
  t.equal(ok.headers['x-auth-request-email'], 'alice@example.com');
  t.equal(ok.headers['x-auth-request-groups'], 'staff');
  t.equal(ok.body, '');

  const denied = logs.find((l) => l.event === 'access_denied' && l.reason === 'explicit_deny');
  t.ok(denied.length >= 2, 'every deny is audited');
  t.match(denied[0], { log: 'audit', subject: 'bob@example.com', jti: contractor.jti, rule: 'no-deletes-for-contractors', method: 'DELETE', host: 'app.example.com', path: '/api/x' });
  t.notOk(logs.raw.some((l) => l.includes(staff.token) || l.includes(contractor.token)), 'no token in any log line');
});

t.test('every method is answered; the body is never read', async (t) => {
  const db = await withDb(t);
  const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const staff = await mintLive(db.kysely, key);
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
    const res = await app.inject({
      method,
      url: '/auth',
      headers: { ...nginx('/app/x', method), authorization: `Bearer ${staff.token}`, 'content-type': 'application/json' },
      ...(method === 'GET' || method === 'HEAD' ? {} : { payload: '{not json' }),
    });
    t.equal(res.statusCode, 200, method);
  }
});

t.test('forged and unusable tokens are refused with 401 and the reason', async (t) => {
  const db = await withDb(t);
  const { app, logs } = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const now = Math.floor(Date.now() / 1000);
  const foreign = newSigningKey('ES256');
  const live = await mintLive(db.kysely, key);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const [h, p, s] = live.token.split('.') as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const hmacWithPublicKey = (() => {
    const header = b64({ alg: 'HS256', typ: 'JWT', kid: key.kid });
    const body = b64(payload);
    const sig = createHmac('sha256', key.publicPem).update(`${header}.${body}`).digest('base64url');
    return `${header}.${body}.${sig}`;
  })();
  const revoked = await mintLive(db.kysely, key);
  await db.kysely.updateTable('issued_tokens').set({ revoked_at: new Date() }).where('jti', '=', revoked.jti).execute();
  // A row whose expiry has passed although the token's exp has not (written so, not updated: an update
  // that shortens the expiry notifies like a revocation).
  const expiredRow = mint(key, { exp: now + 600 });
  await insertToken(db.kysely, {
    jti: expiredRow.jti, subject: expiredRow.subject, email: null, groups: [], idpIssuer: 'https://idp', sessionIndex: null,
    clientAddress: null, issuedAt: new Date(Date.now() - 5000), expiresAt: new Date(Date.now() - 1000),
  });

  const rows: { name: string; token: string; reason: string }[] = [
    { name: 'alg none', token: `${b64({ alg: 'none', typ: 'JWT', kid: key.kid })}.${p}.`, reason: 'malformed' },
    { name: 'alg none with a signature part', token: `${b64({ alg: 'none', typ: 'JWT', kid: key.kid })}.${p}.${s}`, reason: 'algorithm_not_allowed' },
    { name: 'HMAC keyed with the public key', token: hmacWithPublicKey, reason: 'algorithm_not_allowed' },
    { name: 'unknown kid', token: mint(key, { kid: 'no-such-key' }).token, reason: 'unknown_key' },
    { name: 'no kid', token: `${b64({ alg: 'ES256', typ: 'JWT' })}.${p}.${s}`, reason: 'unknown_key' },
    { name: 'foreign key', token: mint(foreign).token, reason: 'unknown_key' },
    { name: 'foreign key claiming our kid', token: mint(foreign, { kid: key.kid }).token, reason: 'bad_signature' },
    { name: 'expired', token: mint(key, { iat: now - 1000, nbf: now - 1000, exp: now - 100 }).token, reason: 'expired' },
    { name: 'not yet valid', token: mint(key, { nbf: now + 600, exp: now + 1200 }).token, reason: 'not_yet_valid' },
    { name: 'wrong issuer', token: mint(key, { iss: 'https://evil.example' }).token, reason: 'wrong_issuer' },
    { name: 'wrong audience', token: mint(key, { aud: 'another-app' }).token, reason: 'wrong_audience' },
    { name: 'tampered payload', token: `${h}.${b64({ ...payload, groups: ['admins'] })}.${s}`, reason: 'bad_signature' },
    { name: 'garbage', token: 'not-a-jwt', reason: 'malformed' },
    { name: 'well-signed but unknown to the database', token: mint(key).token, reason: 'unknown_token' },
    { name: 'revoked', token: revoked.token, reason: 'revoked' },
    { name: 'row expired', token: expiredRow.token, reason: 'expired' },
    { name: 'subject differs from the row', token: mint(key, { jti: live.jti, subject: 'mallory@example.com' }).token, reason: 'subject_mismatch' },
  ];
  for (const row of rows) {
    const res = await app.inject({ method: 'GET', url: '/auth', headers: { ...nginx('/app/x'), authorization: `Bearer ${row.token}` } });
    t.equal(res.statusCode, 401, `${row.name}: 401`);
    t.equal(res.headers['x-auth-request-reason'], row.reason, `${row.name}: reason ${row.reason}`);
    t.equal(res.body, '', `${row.name}: no body (NGINX keeps its keep-alive connection)`);
    t.equal(res.headers['www-authenticate'], 'Bearer realm="saml-authz", error="invalid_token"', `${row.name}: WWW-Authenticate`);
  }
  const ok = await app.inject({ method: 'GET', url: '/auth', headers: { ...nginx('/app/x'), authorization: `Bearer ${live.token}` } });
  t.equal(ok.statusCode, 200, 'the genuine token still works');
  const tamperedAfter = await app.inject({ method: 'GET', url: '/auth', headers: { ...nginx('/app/x'), authorization: `Bearer ${rows.find((r) => r.name === 'tampered payload')!.token}` } });
  t.equal(tamperedAfter.headers['x-auth-request-reason'], 'bad_signature', 'a tampered copy of a token the cache holds is still refused (the cache is exact)');
  t.equal(logs.find((l) => l.event === 'access_denied' && l.reason === 'revoked').length, 1, 'audited with reason');
});
