import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { mintLive, newSigningKey } from '../helpers/tokens.js';

const key = newSigningKey('ES256');
const nginx = { 'x-original-uri': '/app/home', 'x-original-method': 'GET', host: 'app.example.com' };

t.test('/auth: the session cookie is __Host-saml_authz by default; sent twice, the request is refused (403 ambiguous_cookie)', async (t) => {
  const db = await withDb(t);
  const { app, logs } = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const alice = await mintLive(db.kysely, key, { subject: 'alice@example.com', groups: ['staff'] });
  const mallory = await mintLive(db.kysely, key, { subject: 'mallory@example.com', groups: ['staff'] });
  const rows: { name: string; headers: Record<string, string | string[]>; status: number; reason?: string }[] = [
    { name: 'the default cookie name', headers: { cookie: `__Host-saml_authz=${alice.token}` }, status: 200 },
    { name: 'the old unprefixed name is not read', headers: { cookie: `saml_authz=${alice.token}` }, status: 401, reason: 'no_token' },
    { name: 'a tossed cookie before the victim\'s', headers: { cookie: `__Host-saml_authz=${mallory.token}; __Host-saml_authz=${alice.token}` }, status: 403, reason: 'ambiguous_cookie' },
    { name: 'the same token twice', headers: { cookie: `__Host-saml_authz=${alice.token}; __Host-saml_authz=${alice.token}` }, status: 403, reason: 'ambiguous_cookie' },
    { name: 'in two Cookie headers', headers: { cookie: [`__Host-saml_authz=${alice.token}`, `__Host-saml_authz=${mallory.token}`] }, status: 403, reason: 'ambiguous_cookie' },
    { name: 'a second, empty one', headers: { cookie: `__Host-saml_authz=${alice.token}; __Host-saml_authz=` }, status: 403, reason: 'ambiguous_cookie' },
    { name: 'twice, with a bearer token as well', headers: { authorization: `Bearer ${alice.token}`, cookie: `__Host-saml_authz=${mallory.token}; __Host-saml_authz=${alice.token}` }, status: 403, reason: 'ambiguous_cookie' },
    { name: 'the public route, twice: still refused', headers: { 'x-original-uri': '/docs/intro', cookie: `__Host-saml_authz=a; __Host-saml_authz=b` }, status: 403, reason: 'ambiguous_cookie' },
  ];
  for (const row of rows) {
    const res = await app.inject({ method: 'GET', url: '/auth', headers: { ...nginx, ...row.headers } });
    t.equal(res.statusCode, row.status, `${row.name}: ${row.status}`);
    t.equal(res.headers['x-auth-request-reason'], row.reason, `${row.name}: reason`);
    t.equal(res.headers['x-auth-request-user'], row.status === 200 ? 'alice@example.com' : undefined, `${row.name}: identity headers only on allow`);
  }
  t.equal(logs.find((l) => l.event === 'access_denied' && l.reason === 'ambiguous_cookie').length, 6, 'each audited');
  t.notOk(logs.raw.some((l) => l.includes(alice.token) || l.includes(mallory.token)), 'no token logged');
});
