import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';
import { clientNetwork } from '../../services/token-service/routes/client-network.js';
import { readAuthnRequest } from '../../services/dev-idp/app.js';

t.test('client networks: an IPv4 address, an IPv6 /64', async (t) => {
  const rows: [string, string][] = [
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:0:0:0:9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::198.51.100.7', '64:ff9b:0:0::/64'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4::/64'],
    ['::', '0:0:0:0::/64'],
  ];
  for (const [address, network] of rows) t.equal(clientNetwork(address), network, address);
});

t.test('rate limit per client network: every address of an IPv6 /64 shares one budget', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { RATE_LIMIT_MAX: '2' } });
  const hit = async (remote: string) => (await svc.app.inject({ method: 'POST', url: '/logout', remoteAddress: remote })).statusCode;
  t.same([await hit('2001:db8:1:2::1'), await hit('2001:db8:1:2::2'), await hit('2001:db8:1:2:ffff:1:2:3')], [401, 401, 429], 'three addresses of one /64: one budget');
  t.equal(await hit('2001:db8:1:3::1'), 401, 'the next /64 has its own');
  t.same([await hit('198.51.100.9'), await hit('::ffff:198.51.100.9'), await hit('198.51.100.9')], [401, 401, 429], 'an IPv4-mapped address is the IPv4 address');
  t.match(svc.logs.find((l) => l.event === 'redeem_refused' && l.reason === 'rate_limited')[0], { client: '2001:db8:1:2:ffff:1:2:3' }, 'audited with the address itself');
});

t.test('a spray of new networks does not reset a client being held back', async (t) => {
  const db = await withDb(t);
  const STORE = 1000;
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { RATE_LIMIT_MAX: '2', RATE_LIMIT_STORE_SIZE: String(STORE) } });
  const hit = async (remote: string) => (await svc.app.inject({ method: 'POST', url: '/logout', remoteAddress: remote })).statusCode;
  const attacker = '2001:db8:bad::1';
  const idle = '198.51.100.200';
  for (let i = 0; i < 3; i++) await hit(attacker);
  for (let i = 0; i < 3; i++) await hit(idle);
  t.equal(await hit(idle), 429, 'the idle client is held back before the spray');

  // 2.5 × the store in new networks (other /64s of the attacker's own /48), the attacker retrying throughout.
  const seen: number[] = [];
  for (let i = 0; i < STORE * 2.5; i++) {
    await hit(`2001:db8:bad:${(i + 1).toString(16)}::1`);
    if (i % 100 === 99) seen.push(await hit(attacker));
  }
  t.same(new Set(seen), new Set([429]), `the attacker stayed at 429 through ${seen.length} retries during the spray`);
  t.equal(await hit(attacker), 429, 'and after it');
  // The bound of an LRU, stated: a network idle while more networks than the store came by is forgotten.
  t.equal(await hit(idle), 401, `a network idle while ${STORE * 2.5} others came by starts afresh (RATE_LIMIT_STORE_SIZE=${STORE})`);
});

t.test('outstanding sign-ins per client network are bounded: 429 past SAML_MAX_PENDING_LOGINS, nothing written', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_MAX_PENDING_LOGINS: '3', RATE_LIMIT_MAX: '1000' } });
  const login = (remote: string) => svc.app.inject({ url: '/saml/login', remoteAddress: remote });
  const rows = async () => Number((await db.kysely.selectFrom('saml_requests').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

  const first = [];
  for (const host of ['1', '2', '3']) first.push(await login(`2001:db8:5:6::${host}`));
  t.same(first.map((r) => r.statusCode), [302, 302, 302]);
  const refused = await login('2001:db8:5:6:aaaa::99');
  t.equal(refused.statusCode, 429, 'a fourth from the same /64: 429');
  t.same(refused.json(), { error: 'too_many_pending_logins', message: 'too many sign-ins started from this network; try again in a few minutes' });
  t.equal(refused.headers['retry-after'], '300');
  t.equal(refused.headers['set-cookie'], undefined, 'no state cookie');
  t.equal(await rows(), 3, 'nothing written');
  t.equal((await login('2001:db8:5:7::1')).statusCode, 302, 'another /64 is not affected');
  t.match(await svc.app.metrics.getSingleMetricAsString('token_redeem_refused_total'), /reason="too_many_pending_logins"\} 1/);

  // A finished sign-in frees its place; so does an expired request.
  const requestId = readAuthnRequest(new URL(String(first[0]!.headers.location)).searchParams.get('SAMLRequest') ?? '').id;
  t.equal((await postAcs(svc.app, (await svc.sign({ inResponseTo: requestId })).samlResponse)).statusCode, 200);
  t.equal((await login('2001:db8:5:6::4')).statusCode, 302, 'a spent request id no longer counts');
  t.equal((await login('2001:db8:5:6::5')).statusCode, 429);
  await db.kysely.updateTable('saml_requests').set({ expires_at: new Date(Date.now() - 1000) }).execute();
  t.equal((await login('2001:db8:5:6::6')).statusCode, 302, 'expired request ids no longer count');
});

t.test('a burst of concurrent sign-ins from one network cannot overshoot the bound', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_MAX_PENDING_LOGINS: '3', RATE_LIMIT_MAX: '1000', DATABASE_POOL_MAX: '12' } });
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => svc.app.inject({ url: '/saml/login', remoteAddress: `2001:db8:9:9::${(i + 1).toString(16)}` })));
  t.same(results.map((r) => r.statusCode).sort(), [302, 302, 302, ...Array(9).fill(429)]);
  const n = (await db.kysely.selectFrom('saml_requests').select('request_id').execute()).length;
  t.equal(n, 3, 'exactly the bound in Postgres');
});

t.test('/saml/login starts only from a navigation: a script\'s fetch, an image or a frame writes nothing (403)', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_MAX_PENDING_LOGINS: '2', RATE_LIMIT_MAX: '1000' } });
  const login = (dest?: string | string[]) => svc.app.inject({ url: '/saml/login', remoteAddress: '198.51.100.77', headers: dest === undefined ? {} : { 'sec-fetch-dest': dest } });
  for (const dest of ['empty', 'image', 'iframe', 'script', 'Document', ['document', 'document']]) {
    const res = await login(dest);
    t.equal(res.statusCode, 403, `Sec-Fetch-Dest ${JSON.stringify(dest)}: 403`);
    t.equal(res.json().error, 'not_a_navigation');
    t.equal(res.headers['set-cookie'], undefined, `${JSON.stringify(dest)}: no state cookie`);
  }
  t.equal((await db.kysely.selectFrom('saml_requests').select('request_id').execute()).length, 0, 'nothing written, nothing counted');
  t.equal((await login('document')).statusCode, 302, 'a top-level navigation signs in');
  t.equal((await login()).statusCode, 302, 'a client that sends no Sec-Fetch-Dest (a program) too');
});
