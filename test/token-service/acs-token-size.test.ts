import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs, RETURN_BASE, type TokenFixture } from '../helpers/token-service.js';
import { AUDIENCE, ISSUER, newSigningKey } from '../helpers/tokens.js';
import { TokenVerifier } from '../../services/shared/jwt-verify.js';
import { verificationKeysOf } from '../../services/shared/jwt-keys.js';
import { BEARER_MAX_BYTES, COOKIE_MAX_BYTES } from '../../services/token-service/tokens/size.js';

// Issue 12 item 11: a user in ~170 directory groups (names as long as Okta/Azure AD group names).
const many = (n: number): string[] => Array.from({ length: n }, (_, i) => `okta-app-finance-reporting-${String(i).padStart(4, '0')}-readers`);
const GROUPS_170 = [...many(170), 'admins'];
const BROWSER = 'text/html,application/xhtml+xml';

const count = async (db: Awaited<ReturnType<typeof withDb>>, table: 'issued_tokens' | 'saml_assertions' | 'saml_requests') =>
  Number((await db.kysely.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

/** What /auth would do with the token: the authz-service's own verifier and limit. */
const authAccepts = (svc: TokenFixture, token: string) =>
  new TokenVerifier(verificationKeysOf([svc.jwtKey]), { issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 5, cacheSize: 0 }).verify(token);

t.test('never issues a token that /auth or a browser cookie would refuse', async (t) => {
  const db = await withDb(t);
  const jwtKey = newSigningKey('ES256');
  const env = { RATE_LIMIT_MAX: '1000' };
  const plain = await buildTokenService(t, { databaseUrl: db.url, jwtKey, env });
  const byName = await buildTokenService(t, { databaseUrl: db.url, jwtKey, env: { ...env, SAML_GROUPS_FILTER: 'admins, okta-app-finance-reporting-000*' } });
  const byRegex = await buildTokenService(t, { databaseUrl: db.url, jwtKey, env: { ...env, SAML_GROUPS_FILTER_REGEX: 'okta-app-finance-reporting-00[0-4][0-9]-readers' } });

  const rows: { name: string; svc: TokenFixture; groups: string[]; accept: string; status: number; claim?: string[] }[] = [
    { name: '171 groups, browser form post', svc: plain, groups: GROUPS_170, accept: BROWSER, status: 403 },
    { name: '171 groups, JSON client', svc: plain, groups: GROUPS_170, accept: 'application/json', status: 403 },
    { name: '90 groups, browser form post (over the cookie bound)', svc: plain, groups: many(90), accept: BROWSER, status: 403 },
    { name: '90 groups, JSON client: one bound for every client', svc: plain, groups: many(90), accept: 'application/json', status: 403 },
    { name: '50 groups, JSON client', svc: plain, groups: many(50), accept: 'application/json', status: 200, claim: many(50) },
    { name: '171 groups, name and prefix filter, browser', svc: byName, groups: GROUPS_170, accept: BROWSER, status: 303, claim: [...many(10), 'admins'] },
    { name: '171 groups, regex filter, browser', svc: byRegex, groups: GROUPS_170, accept: BROWSER, status: 303, claim: many(50) },
  ];
  for (const row of rows) {
    const before = { tokens: await count(db, 'issued_tokens'), assertions: await count(db, 'saml_assertions') };
    const { samlResponse } = await row.svc.sign({ groups: row.groups });
    const res = await postAcs(row.svc.app, samlResponse, { accept: row.accept, relayState: `${RETURN_BASE}home` });
    t.equal(res.statusCode, row.status, `${row.name}: ${row.status}`);
    if (row.status === 403) {
      t.equal(res.headers['set-cookie'], undefined, `${row.name}: no cookie`);
      if (row.accept === BROWSER) t.match(res.body, /the groups you belong to\) are more than this sign-in can carry/, `${row.name}: a page that says why`);
      else t.same(res.json(), { error: 'token_too_large', message: 'the token would be too large (usually: too many groups); the administrator can limit the groups with SAML_GROUPS_FILTER' });
      t.same({ tokens: await count(db, 'issued_tokens'), assertions: await count(db, 'saml_assertions') }, before, `${row.name}: no token row, assertion not spent`);
      continue;
    }
    const token = row.status === 200 ? (res.json() as { access_token: string }).access_token : /(?:^|,)__Host-saml_authz=([^;]+);/.exec(String(res.headers['set-cookie']))![1]!;
    t.ok(`__Host-saml_authz=${token}`.length <= COOKIE_MAX_BYTES, `${row.name}: the token fits every browser's cookie`);
    t.ok(token.length <= BEARER_MAX_BYTES, `${row.name}: the token fits /auth`);
    const verified = authAccepts(row.svc, token);
    t.ok(verified.ok, `${row.name}: /auth's verifier accepts it`);
    if (verified.ok) t.same(verified.claims.groups, row.claim, `${row.name}: groups claim`);
    const stored = await db.kysely.selectFrom('issued_tokens').select('groups').where('jti', '=', verified.ok ? verified.claims.jti : '').executeTakeFirstOrThrow();
    t.same(stored.groups, row.claim, `${row.name}: token row holds the same groups`);
  }

  const refused = plain.logs.find((l) => l.msg === 'token not issued: too large');
  t.equal(refused.length, 4, 'each refusal logged');
  t.match(refused[0], { reason: 'token_too_large', groups: 171, groupsKept: 171, limit: COOKIE_MAX_BYTES });
  t.ok((refused[0]!.bytes as number) > 8192, '171 groups: the 8 KB+ token of the issue');
  t.match(refused[2], { groups: 90, groupsKept: 90, limit: COOKIE_MAX_BYTES });
  t.equal(plain.logs.find((l) => l.event === 'saml_refused' && l.reason === 'token_too_large' && l.subject === 'alice@example.com').length, 4, 'audited with the subject');
  t.match(await plain.app.metrics.getSingleMetricAsString('saml_rejected_total'), /saml_rejected_total\{reason="token_too_large"\} 4/);
});

t.test('a refused oversize sign-in spends nothing: the same response succeeds once the operator filters groups', async (t) => {
  const db = await withDb(t);
  const jwtKey = newSigningKey('ES256');
  const before = await buildTokenService(t, { databaseUrl: db.url, jwtKey, env: { SAML_ALLOW_IDP_INITIATED: 'false' } });
  const after = await buildTokenService(t, { databaseUrl: db.url, jwtKey, env: { SAML_ALLOW_IDP_INITIATED: 'false', SAML_GROUPS_FILTER: 'admins' } });
  const login = await before.app.inject('/saml/login');
  t.equal(login.statusCode, 302);
  // the browser that started the login carries its login-state cookie to the ACS (login CSRF binding)
  const setCookies = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
  const stateCookie = setCookies.map((c) => c.split(';')[0]!).join('; ');
  const [request] = await db.kysely.selectFrom('saml_requests').select('request_id').execute();
  const { samlResponse } = await before.sign({ groups: GROUPS_170, inResponseTo: request!.request_id });

  const refused = await postAcs(before.app, samlResponse, { accept: BROWSER, headers: { cookie: stateCookie } });
  t.equal(refused.statusCode, 403);
  t.same([await count(db, 'saml_requests'), await count(db, 'saml_assertions'), await count(db, 'issued_tokens')], [1, 0, 0], 'request id outstanding, assertion unspent, no token');

  const accepted = await postAcs(after.app, samlResponse, { accept: 'application/json' });
  t.equal(accepted.statusCode, 200);
  t.same([await count(db, 'saml_requests'), await count(db, 'saml_assertions'), await count(db, 'issued_tokens')], [0, 1, 1], 'spent once, by the sign-in that issued a token');
  t.equal((await postAcs(after.app, samlResponse)).statusCode, 401, 'and only once');
  t.notOk([...before.logs.raw, ...after.logs.raw].some((l) => l.includes(samlResponse.slice(0, 40))), 'the SAML document is not logged');
});
