/**
 * One SAML response, many redemptions at once: two token-service replicas (two apps on one database,
 * each listening on its own port) and a separate TCP connection per request. Exactly one token.
 */
import t from 'tap';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withDb } from '../helpers/db.js';
import { buildTokenService, type TokenFixture } from '../helpers/token-service.js';
import { saveRequestId } from '../../services/token-service/store/saml.js';
import { claimsOf } from './fixtures/fixtures.js';

const CONNECTIONS = 12;
const ROUNDS = 4;

/** POST /saml/acs on its own connection (no keep-alive agent), resolving to status and body. */
function postOnNewConnection(port: number, samlResponse: string): Promise<{ status: number; body: string }> {
  const payload = new URLSearchParams({ SAMLResponse: samlResponse }).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/saml/acs',
        agent: false,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function listening(fx: TokenFixture): Promise<number> {
  await fx.app.listen({ host: '127.0.0.1', port: 0 });
  return (fx.app.server.address() as AddressInfo).port;
}

t.test(`the same SAML response sent ${CONNECTIONS} times at once to two replicas yields exactly one token`, async (t) => {
  const db = await withDb(t);
  const env = { RATE_LIMIT_MAX: '100000', ACCESS_LOG: 'false' };
  const a = await buildTokenService(t, { databaseUrl: db.url, env });
  const b = await buildTokenService(t, { databaseUrl: db.url, env, idp: a.idp, jwtKey: a.jwtKey });
  const ports = [await listening(a), await listening(b)];

  for (let round = 0; round < ROUNDS; round++) {
    const { samlResponse, assertionId } = await a.sign();
    const results = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => postOnNewConnection(ports[i % 2]!, samlResponse)));
    const ok = results.filter((r) => r.status === 200);
    t.equal(ok.length, 1, `round ${round}: exactly one 200`);
    t.same(
      results.filter((r) => r.status !== 200).map((r) => [r.status, JSON.parse(r.body) as unknown]),
      Array.from({ length: CONNECTIONS - 1 }, () => [401, { error: 'invalid_saml_response', message: 'the SAML response was not accepted' }]),
      `round ${round}: every other attempt is the generic 401`,
    );
    const jti = claimsOf((JSON.parse(ok[0]!.body) as { access_token: string }).access_token).jti;
    const tokens = await db.kysely.selectFrom('issued_tokens').select('jti').execute();
    const assertions = await db.kysely.selectFrom('saml_assertions').select(['assertion_id', 'jti']).where('assertion_id', '=', assertionId).execute();
    t.equal(tokens.length, round + 1, `round ${round}: one more token row`);
    t.ok(tokens.some((r) => r.jti === jti), 'the row is the returned token');
    t.same(assertions, [{ assertion_id: assertionId, jti }], 'the assertion is recorded once, for that token');
  }
  const replays = [...a.logs.lines, ...b.logs.lines].filter((l) => l.event === 'saml_refused' && l.reason === 'replay').length;
  t.equal(replays, ROUNDS * (CONNECTIONS - 1), 'every refusal was audited as a replay');
});

t.test('two different responses answering the same SP-initiated request, at once, on two replicas: exactly one token', async (t) => {
  const db = await withDb(t);
  const env = { RATE_LIMIT_MAX: '100000', ACCESS_LOG: 'false', SAML_ALLOW_IDP_INITIATED: 'false' };
  const a = await buildTokenService(t, { databaseUrl: db.url, env });
  const b = await buildTokenService(t, { databaseUrl: db.url, env, idp: a.idp, jwtKey: a.jwtKey });
  const ports = [await listening(a), await listening(b)];
  const requestId = `_req${Date.now()}`;
  await saveRequestId(db.kysely, requestId, new Date(Date.now() + 60_000));
  const responses = await Promise.all(Array.from({ length: 8 }, () => a.sign({ inResponseTo: requestId })));
  const results = await Promise.all(responses.map((r, i) => postOnNewConnection(ports[i % 2]!, r.samlResponse)));
  t.same(results.map((r) => r.status).sort(), [200, 401, 401, 401, 401, 401, 401, 401], 'one 200, seven 401');
  t.equal((await db.kysely.selectFrom('issued_tokens').select('jti').execute()).length, 1, 'one token row');
  t.equal((await db.kysely.selectFrom('saml_requests').select('request_id').execute()).length, 0, 'the request id is spent');
});
