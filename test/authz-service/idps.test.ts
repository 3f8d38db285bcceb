import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { mintLive, newSigningKey } from '../helpers/tokens.js';

const key = newSigningKey('ES256');
const HOSPITAL = 'https://idp.hospital.example/saml';
const CLINIC = 'https://idp.clinic.example/saml';
const POLICY = `
rules:
  - { id: docs-public, effect: allow, public: true, paths: ["/docs/**"], methods: [GET, HEAD] }
  - { id: hospital-staff, effect: allow, paths: ["/**"], groups: [staff], idps: ["${HOSPITAL}"] }
  - { id: clinic-lab, effect: allow, paths: ["/lab/**"], idps: ["${CLINIC}"] }
  - { id: no-admin-from-clinic, effect: deny, paths: ["/admin/**"], idps: ["${CLINIC}"] }
`;
const nginx = (uri: string) => ({ 'x-original-uri': uri, 'x-original-method': 'GET', host: 'app.example.com' });

t.test('idps rules decide on the idp claim of real signed tokens; denials audit the idp, metrics never label it', async (t) => {
  const db = await withDb(t);
  const { app, logs } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], policy: POLICY });
  const hospital = await mintLive(db.kysely, key, { subject: 'nurse@hospital.example', groups: ['staff'], extra: { idp: HOSPITAL } });
  // The clinic's IdP sends a staff group too: a group name is only as good as the IdP that asserts it.
  const clinic = await mintLive(db.kysely, key, { subject: 'gp@clinic.example', groups: ['staff'], extra: { idp: CLINIC } });
  const stranger = await mintLive(db.kysely, key, { subject: 'x@stranger.example', groups: ['staff'], extra: { idp: 'https://idp.stranger.example/saml' } });
  const older = await mintLive(db.kysely, key, { subject: 'old@hospital.example', groups: ['staff'] });

  const rows: { name: string; uri: string; token?: string; status: number; reason?: string; rule?: string }[] = [
    { name: 'hospital staff anywhere', uri: '/wards/3', token: hospital.token, status: 200 },
    { name: 'hospital staff on the admin path the clinic deny names', uri: '/admin/users', token: hospital.token, status: 200 },
    { name: 'a clinic user on the lab path', uri: '/lab/results/17', token: clinic.token, status: 200 },
    { name: 'a clinic user with the staff group elsewhere', uri: '/wards/3', token: clinic.token, status: 403, reason: 'no_matching_rule' },
    { name: 'a clinic user on the admin path', uri: '/admin/users', token: clinic.token, status: 403, reason: 'explicit_deny', rule: 'no-admin-from-clinic' },
    { name: 'a clinic user on the admin path, other case', uri: '/ADMIN/users', token: clinic.token, status: 403, reason: 'explicit_deny', rule: 'no-admin-from-clinic' },
    { name: 'an IdP no rule names', uri: '/lab/results/17', token: stranger.token, status: 403, reason: 'no_matching_rule' },
    { name: 'a token without idp: an idps allow does not admit it', uri: '/wards/3', token: older.token, status: 403, reason: 'no_matching_rule' },
    { name: 'a token without idp: an idps deny applies (fails closed)', uri: '/admin/users', token: older.token, status: 403, reason: 'explicit_deny', rule: 'no-admin-from-clinic' },
    { name: 'anonymous on the public docs', uri: '/docs/intro', status: 200 },
    { name: 'anonymous on the lab path', uri: '/lab/results/17', status: 401, reason: 'no_token' },
    { name: 'anonymous on the admin path: from no IdP, so asked to sign in', uri: '/admin/users', status: 401, reason: 'no_token' },
  ];
  for (const row of rows) {
    const headers = { ...nginx(row.uri), ...(row.token ? { authorization: `Bearer ${row.token}` } : {}) };
    const res = await app.inject({ method: 'GET', url: '/auth', headers });
    t.equal(res.statusCode, row.status, `${row.name}: status`);
    t.equal(res.headers['x-auth-request-reason'], row.reason, `${row.name}: reason`);
    t.equal(res.headers['x-auth-request-rule'], row.rule, `${row.name}: deciding rule`);
    t.equal(res.body, '', `${row.name}: no body`);
  }

  const ok = await app.inject({ method: 'GET', url: '/auth', headers: { ...nginx('/lab/results/17'), authorization: `Bearer ${clinic.token}` } });
  t.equal(ok.headers['x-auth-request-user'], 'gp@clinic.example');
  t.equal(ok.headers['x-auth-request-groups'], 'staff');

  const denied = logs.find((l) => l.event === 'access_denied');
  t.match(
    denied.find((l) => l.jti === clinic.jti && l.rule === 'no-admin-from-clinic'),
    { log: 'audit', subject: 'gp@clinic.example', idp: CLINIC, reason: 'explicit_deny', path: '/admin/users' },
    'a denial names the IdP the subject signed in at',
  );
  t.match(denied.find((l) => l.jti === stranger.jti), { idp: 'https://idp.stranger.example/saml', reason: 'no_matching_rule' });
  const olderDenials = denied.filter((l) => l.jti === older.jti);
  t.equal(olderDenials.length, 2);
  t.ok(olderDenials.every((l) => !('idp' in l)), 'a token without idp: no idp key in its denials');
  t.ok(denied.filter((l) => l.subject === null).every((l) => !('idp' in l)), 'anonymous denials carry no idp');

  const metrics = await app.metrics.metrics();
  t.match(metrics, /authz_decisions_total\{[^}]*reason="explicit_deny"[^}]*\} [1-9]/, 'the denials were counted');
  t.notMatch(metrics, /idp\.(clinic|hospital|stranger)\.example|idp="/, 'no entity id and no idp label in the metrics');
});
