/**
 * A rough figure for silent renewal (not part of `npm test` or `npm run bench`): one token-service on
 * loopback, `GET /saml/login?rd=…` with a session cookie, round-robin over 500 live sessions, 10
 * connections for 3 s. Each renewal is a transaction (row lock, older tokens revoked, token row written,
 * idle deadline moved) and one ES256 signature. Run: `npm test -- test/bench/renewal-rate.ts`.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { withDb } from '../helpers/db.js';
import { buildTokenService, RETURN_BASE } from '../helpers/token-service.js';
import { insertSession } from '../../services/token-service/store/sessions.js';
import { newSessionSecret } from '../../services/token-service/sessions/cookie.js';

t.test('renewals per second, one replica, loopback', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { RATE_LIMIT_MAX: '1000000', DATABASE_POOL_MAX: '10' } });
  const cookies: string[] = [];
  const now = new Date();
  for (let i = 0; i < 500; i++) {
    const { secret, hash } = newSessionSecret();
    await insertSession(db.kysely, {
      sid: randomUUID(), secretHash: hash, subject: `user${i}@example.com`, email: `user${i}@example.com`, groups: ['staff'],
      idpIssuer: 'http://www.okta.com/exk-test', sessionIndex: null, nameIdFormat: null, clientAddress: null,
      createdAt: now, idleExpiresAt: new Date(now.getTime() + 3_600_000), expiresAt: new Date(now.getTime() + 7_200_000),
    });
    cookies.push(`__Host-saml_authz_session=${secret}`);
  }
  const address = await svc.app.listen({ host: '127.0.0.1', port: 0 });
  let i = 0;
  const result = await autocannon({
    url: address,
    connections: 10,
    duration: 3,
    requests: [{
      method: 'GET',
      path: `/saml/login?rd=${encodeURIComponent(RETURN_BASE)}`,
      setupRequest: (req) => ({ ...req, headers: { 'sec-fetch-dest': 'document', cookie: cookies[i++ % cookies.length]! } }),
    }],
  });
  const renewed = Number(/session_renewals_total\{result="renewed"\} (\d+)/.exec(await svc.app.metrics.getSingleMetricAsString('session_renewals_total'))?.[1]);
  t.comment(`renewals: ${result.requests.total} in 3 s = ${result.requests.average} /s; latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms; non-2xx (the 303s) ${result.non2xx}`);
  t.equal(result.errors, 0, 'no connection errors');
  t.ok(renewed >= result.requests.total && renewed <= result.requests.total + 10, `every request renewed (${renewed}, ${result.requests.total} counted in the 3 s)`);
  // The same machine, the same moment: a route that does nothing, for scale (the machine is shared).
  const bare = await autocannon({ url: `${address}/healthz`, connections: 10, duration: 3 });
  t.comment(`for scale, GET /healthz: ${bare.requests.average} /s, p99 ${bare.latency.p99} ms`);
  // After the second run every renewal has finished: one token row for each.
  const settled = Number(/session_renewals_total\{result="renewed"\} (\d+)/.exec(await svc.app.metrics.getSingleMetricAsString('session_renewals_total'))?.[1]);
  const rows = await db.kysely.selectFrom('issued_tokens').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  t.equal(Number(rows.n), settled, 'one token row per renewal');
});
