import t from 'tap';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs, RETURN_BASE } from '../helpers/token-service.js';
import { AUDIENCE, ISSUER } from '../helpers/tokens.js';

t.test('a valid IdP-initiated response is traded for a JWT whose row is in Postgres first', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const { samlResponse, assertionId } = await svc.sign();
  const res = await postAcs(svc.app, samlResponse);
  t.equal(res.statusCode, 200);
  t.equal(res.headers['cache-control'], 'no-store');
  const body = res.json() as { access_token: string; token_type: string; expires_in: number; expires_at: string };
  t.equal(body.token_type, 'Bearer');
  t.equal(body.expires_in, 900);
  t.same(Object.keys(body).sort(), ['access_token', 'expires_at', 'expires_in', 'token_type']);

  // Verified with an independent library against the published JWKS.
  const jwks = (await svc.app.inject('/.well-known/jwks.json')).json() as { keys: { kid: string; alg: string }[] };
  t.equal(jwks.keys.length, 1);
  t.equal(jwks.keys[0]!.kid, svc.jwtKey.kid);
  const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(jwks as never), { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] });
  t.equal(protectedHeader.kid, svc.jwtKey.kid);
  t.equal(protectedHeader.alg, 'ES256');
  t.match(payload, { iss: ISSUER, aud: AUDIENCE, sub: 'alice@example.com', email: 'alice@example.com', groups: ['staff', 'admins'] });
  t.type(payload.jti, 'string');
  t.equal(payload.exp! - payload.iat!, 900);
  t.equal(payload.nbf, payload.iat);
  t.equal(new Date(payload.exp! * 1000).toISOString(), body.expires_at);

  const row = await db.kysely.selectFrom('issued_tokens').selectAll().where('jti', '=', payload.jti!).executeTakeFirstOrThrow();
  t.match(row, { subject: 'alice@example.com', email: 'alice@example.com', groups: ['staff', 'admins'], idp_issuer: 'http://www.okta.com/exk-test', revoked_at: null });
  t.equal(row.expires_at.getTime(), payload.exp! * 1000);
  const replay = await db.kysely.selectFrom('saml_assertions').selectAll().executeTakeFirstOrThrow();
  t.match(replay, { assertion_id: assertionId, jti: payload.jti });

  const issuedEvents = svc.logs.find((l) => l.event === 'token_issued');
  t.equal(issuedEvents.length, 1);
  t.match(issuedEvents[0], { log: 'audit', subject: 'alice@example.com', jti: payload.jti });
  t.notOk(svc.logs.raw.some((l) => l.includes(body.access_token) || l.includes(samlResponse.slice(0, 40))), 'neither the token nor the SAML document is logged');
});

t.test('the same response a second time is refused as a replay: 401, no second token', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const { samlResponse } = await svc.sign();
  t.equal((await postAcs(svc.app, samlResponse)).statusCode, 200);
  const again = await postAcs(svc.app, samlResponse);
  t.equal(again.statusCode, 401);
  t.same(again.json(), { error: 'invalid_saml_response', message: 'the SAML response was not accepted' });
  const count = await db.kysely.selectFrom('issued_tokens').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  t.equal(Number(count.n), 1);
  t.equal(svc.logs.find((l) => l.event === 'saml_refused' && l.reason === 'replay').length, 1, 'audited as replay');
  const metrics = await svc.app.metrics.getSingleMetricAsString('saml_rejected_total');
  t.match(metrics, /saml_rejected_total\{reason="replay"\} 1/);
});

t.test('20 concurrent submissions of the same response yield exactly one token', async (t) => {
  const db = await withDb(t);
  // A pool larger than the burst: this is about replay, not about pool exhaustion (which answers 503).
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { RATE_LIMIT_MAX: '1000', DATABASE_POOL_MAX: '25' } });
  const { samlResponse } = await svc.sign();
  const results = await Promise.all(Array.from({ length: 20 }, () => postAcs(svc.app, samlResponse)));
  const statuses = results.map((r) => r.statusCode).sort();
  t.same(statuses, [200, ...Array(19).fill(401)]);
  const count = await db.kysely.selectFrom('issued_tokens').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  t.equal(Number(count.n), 1);
});

t.test('refusals: 4xx, no token, no row', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { RATE_LIMIT_MAX: '1000' } });
  const other = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_IDP_INITIATED: 'false' } });
  const rows: { name: string; send: () => Promise<{ statusCode: number; json(): unknown }>; status: number; reason?: string; error?: string }[] = [
    { name: 'wrong audience', send: async () => postAcs(svc.app, (await svc.sign({ audience: 'https://other.example' })).samlResponse), status: 401, reason: 'wrong_audience' },
    { name: 'expired', send: async () => postAcs(svc.app, (await svc.sign({ now: new Date(Date.now() - 3600_000) })).samlResponse), status: 401, reason: 'expired' },
    { name: 'unsigned', send: async () => postAcs(svc.app, (await svc.sign({ sign: 'none' })).samlResponse), status: 401, reason: 'unsigned' },
    { name: 'unknown InResponseTo', send: async () => postAcs(svc.app, (await svc.sign({ inResponseTo: '_never-requested' })).samlResponse), status: 401, reason: 'unknown_in_response_to' },
    { name: 'unsolicited when IdP-initiated is off', send: async () => postAcs(other.app, (await svc.sign()).samlResponse), status: 401, reason: 'unsolicited_response' },
    { name: 'not base64', send: () => postAcs(svc.app, '%%%not-base64%%%'), status: 401, reason: 'malformed' },
    { name: 'DOCTYPE', send: () => postAcs(svc.app, Buffer.from('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>').toString('base64')), status: 401, reason: 'dtd_forbidden' },
    { name: 'RelayState that is not allowed', send: async () => postAcs(svc.app, (await svc.sign()).samlResponse, { relayState: 'https://evil.example/' }), status: 400 },
    { name: 'no SAMLResponse field', send: () => svc.app.inject({ method: 'POST', url: '/saml/acs', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'RelayState=x' }), status: 400 },
    { name: 'empty SAMLResponse', send: () => svc.app.inject({ method: 'POST', url: '/saml/acs', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'SAMLResponse=' }), status: 400, error: 'bad_request' },
    { name: 'white-space SAMLResponse', send: () => svc.app.inject({ method: 'POST', url: '/saml/acs', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'SAMLResponse=%20%0A' }), status: 400, error: 'bad_request' },
    { name: 'RelayState over 2,048', send: async () => postAcs(svc.app, (await svc.sign()).samlResponse, { relayState: `https://app.example.com/${'a'.repeat(2049 - 24)}` }), status: 400, error: 'bad_request' },
    { name: 'JSON body', send: () => svc.app.inject({ method: 'POST', url: '/saml/acs', headers: { 'content-type': 'application/json' }, payload: '{"SAMLResponse":"x"}' }), status: 400 },
  ];
  for (const row of rows) {
    const res = await row.send();
    t.equal(res.statusCode, row.status, `${row.name}: ${row.status}`);
    t.notMatch(JSON.stringify(res.json()), /access_token/, `${row.name}: no token`);
    if (row.error) t.equal((res.json() as { error?: string }).error, row.error, `${row.name}: ${row.error}`);
    if (row.reason) {
      const logged = [...svc.logs.lines, ...other.logs.lines].filter((l) => l.event === 'saml_refused' && l.reason === row.reason);
      t.ok(logged.length > 0, `${row.name}: audited as ${row.reason}`);
    }
  }
  const count = await db.kysely.selectFrom('issued_tokens').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  t.equal(Number(count.n), 0, 'no token row was written');
});

t.test('a browser form post gets an HttpOnly Secure SameSite cookie and a 303 to an allowed RelayState', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const res = await postAcs(svc.app, (await svc.sign()).samlResponse, { accept: 'text/html,application/xhtml+xml', relayState: `${RETURN_BASE}reports?q=1` });
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, `${RETURN_BASE}reports?q=1`);
  const [token, session, ...more] = [res.headers['set-cookie']].flat();
  t.match(token, /^__Host-saml_authz=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=900; Secure$/);
  t.match(session, /^__Host-saml_authz_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=4320\d; Secure$/, 'and the renewal cookie, for the session\'s 12 hours');
  t.same(more, []);
  t.equal(res.body, '');
});

t.test('SP-initiated: /saml/login stores the request id; the response naming it is accepted once', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_IDP_INITIATED: 'false' } });
  const login = await svc.app.inject(`/saml/login?rd=${encodeURIComponent(`${RETURN_BASE}x`)}`);
  t.equal(login.statusCode, 302);
  const location = new URL(String(login.headers.location));
  t.equal(location.origin + location.pathname, 'https://idp.test.example/sso');
  t.equal(location.searchParams.get('RelayState'), `${RETURN_BASE}x`);
  const stored = await db.kysely.selectFrom('saml_requests').selectAll().execute();
  t.equal(stored.length, 1);
  const requestId = stored[0]!.request_id;

  const { samlResponse } = await svc.sign({ inResponseTo: requestId });
  t.equal((await postAcs(svc.app, samlResponse)).statusCode, 200);
  t.same(await db.kysely.selectFrom('saml_requests').selectAll().execute(), [], 'the request id is spent');
  const second = await postAcs(svc.app, (await svc.sign({ inResponseTo: requestId })).samlResponse);
  t.equal(second.statusCode, 401, 'a second response to the same request is refused');
  t.equal((await svc.app.inject(`/saml/login?rd=${encodeURIComponent('https://evil.example/')}`)).statusCode, 400, 'open redirect refused');
});

t.test('metadata names the ACS and the entity id', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const res = await svc.app.inject('/saml/metadata');
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /xml/);
  t.match(res.body, 'entityID="https://auth.test.example/saml/metadata"');
  t.match(res.body, 'Location="https://auth.test.example/saml/acs"');
});
