import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs, samlJwtEnv } from '../helpers/token-service.js';
import { newSigningKey } from '../helpers/tokens.js';
import { generateIdpKeys } from '../../services/dev-idp/keys.js';
import { loadTokenServiceConfig } from '../../services/token-service/config.js';
import { ConfigError } from '../../services/shared/env.js';
import { presentedToken, type PresentedToken } from '../../services/shared/cookies.js';

t.test('COOKIE_NAME defaults to __Host-saml_authz; a prefix its attributes break is a configuration error naming the variable', async (t) => {
  const idp = await generateIdpKeys();
  const base = {
    DATABASE_URL: 'postgres://u@localhost/db',
    ...samlJwtEnv(idp.cert, newSigningKey('ES256')),
  };
  const rows: { name: string; env: Record<string, string>; cookie?: { name: string; secure: boolean; domain?: string }; problem?: RegExp }[] = [
    { name: 'defaults', env: {}, cookie: { name: '__Host-saml_authz', secure: true } },
    { name: 'a domain with the default name', env: { COOKIE_DOMAIN: 'example.com' }, problem: /^COOKIE_DOMAIN: a __Host- cookie \(__Host-saml_authz\) cannot carry a Domain/ },
    { name: 'not Secure with the default name', env: { COOKIE_SECURE: 'false' }, problem: /^COOKIE_SECURE: a __Host- cookie \(__Host-saml_authz\) requires Secure/ },
    { name: 'a __host- name in another case, with a domain', env: { COOKIE_NAME: '__host-sso', COOKIE_DOMAIN: 'example.com' }, problem: /^COOKIE_DOMAIN: a __Host- cookie \(__host-sso\)/ },
    { name: 'a __Secure- name, not Secure', env: { COOKIE_NAME: '__Secure-sso', COOKIE_SECURE: 'false' }, problem: /^COOKIE_SECURE: a __Secure- cookie/ },
    { name: 'a __Secure- name with a domain', env: { COOKIE_NAME: '__Secure-sso', COOKIE_DOMAIN: 'example.com' }, cookie: { name: '__Secure-sso', secure: true, domain: 'example.com' } },
    { name: 'an unprefixed name, not Secure (plain-http development)', env: { COOKIE_NAME: 'sso', COOKIE_SECURE: 'false' }, cookie: { name: 'sso', secure: false } },
    { name: 'the login-state cookies\' prefix', env: { COOKIE_NAME: '__Host-saml_login_x' }, problem: /^COOKIE_NAME: __Host-saml_login_… names the login-state cookies/ },
  ];
  for (const row of rows) {
    try {
      const config = loadTokenServiceConfig({ ...base, ...row.env });
      t.notOk(row.problem, `${row.name}: accepted`);
      t.match(config.cookie, row.cookie ?? {}, `${row.name}: cookie settings`);
      if (!row.cookie?.domain) t.notOk('domain' in config.cookie, `${row.name}: no domain`);
    } catch (err) {
      t.ok(err instanceof ConfigError, `${row.name}: a ConfigError`);
      t.ok(row.problem && (err as ConfigError).problems.some((p) => row.problem!.test(p)), `${row.name}: ${(err as ConfigError).problems.join(' | ')}`);
    }
  }
});

t.test('the presented token: one, none, or a request carrying the session cookie twice', async (t) => {
  const N = '__Host-saml_authz';
  const rows: [string, string | undefined, string | undefined, PresentedToken][] = [
    ['the cookie alone', undefined, `${N}=a`, { kind: 'token', token: 'a', via: 'cookie' }],
    ['among others', undefined, `x=1; ${N}=a; y=2`, { kind: 'token', token: 'a', via: 'cookie' }],
    ['two of them', undefined, `${N}=a; ${N}=b`, { kind: 'ambiguous' }],
    ['the same value twice', undefined, `${N}=a;${N}=a`, { kind: 'ambiguous' }],
    ['twice, with spaces around the name', undefined, ` ${N} = a ; ${N}=b`, { kind: 'ambiguous' }],
    ['twice, one empty', undefined, `${N}=a; ${N}=`, { kind: 'ambiguous' }],
    ['twice, with a bearer token too', 'Bearer t', `${N}=a; ${N}=b`, { kind: 'ambiguous' }],
    ['a bearer token and one cookie', 'Bearer t', `${N}=a`, { kind: 'token', token: 't', via: 'bearer' }],
    ['Basic for the upstream and the cookie', 'Basic dTpw', `${N}=a`, { kind: 'token', token: 'a', via: 'cookie' }],
    ['the unprefixed name a sibling domain can set is never read', undefined, 'saml_authz=evil', { kind: 'none' }],
    ['the unprefixed name beside ours', undefined, `saml_authz=evil; ${N}=a`, { kind: 'token', token: 'a', via: 'cookie' }],
    ['another case of the prefix is another cookie', undefined, `__host-saml_authz=evil; ${N}=a`, { kind: 'token', token: 'a', via: 'cookie' }],
    ['a name that merely ends like ours', undefined, `x${N}=a`, { kind: 'none' }],
    ['empty', undefined, `${N}=`, { kind: 'none' }],
    ['no cookie header', undefined, undefined, { kind: 'none' }],
  ];
  for (const [name, authorization, cookie, expected] of rows) t.same(presentedToken(authorization, cookie, N), expected, name);
});

t.test('/logout refuses a request carrying the session cookie twice: 400, nothing revoked, our cookie cleared', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const mine = (await postAcs(svc.app, (await svc.sign()).samlResponse)).json().access_token as string;
  const tossed = (await postAcs(svc.app, (await svc.sign({ nameId: 'mallory@example.com' })).samlResponse)).json().access_token as string;
  for (const cookie of [`__Host-saml_authz=${tossed}; __Host-saml_authz=${mine}`, [`__Host-saml_authz=${mine}`, `__Host-saml_authz=${tossed}`]]) {
    const res = await svc.app.inject({ method: 'POST', url: '/logout', headers: { cookie } });
    t.equal(res.statusCode, 400);
    t.same(res.json(), { error: 'ambiguous_cookie', message: 'the session cookie was sent more than once' });
    t.same(res.headers['set-cookie'], ['__Host-saml_authz=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure', '__Host-saml_authz_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure']);
  }
  const revoked = await db.kysely.selectFrom('issued_tokens').select('jti').where('revoked_at', 'is not', null).execute();
  t.same(revoked, [], 'nothing revoked');
  t.equal((await svc.app.inject({ method: 'POST', url: '/logout', headers: { cookie: `__Host-saml_authz=${mine}` } })).statusCode, 204, 'control: one cookie logs out');
});
