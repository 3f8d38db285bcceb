import t from 'tap';
import { compilePolicy, evaluate, explainDecision, parsePolicy } from '../../../services/authz-service/policy/index.js';
import type { Decision, Identity, Policy } from '../../../services/authz-service/policy/index.js';
import { ANONYMOUS, applies, clientOf, holds } from '../../../services/authz-service/policy/decide.js';
import { CONDITION_KEYS } from '../../../services/authz-service/policy/types.js';

const HOSPITAL = 'https://idp.hospital.example/saml';
const CLINIC = 'https://idp.clinic.example/saml';

const POLICY = `
rules:
  - { id: docs-public, effect: allow, public: true, paths: ["/docs/**"], methods: [GET, HEAD] }
  - { id: drafts-closed, effect: deny, paths: ["/docs/drafts/**"] }
  - id: admin-console
    effect: allow
    hosts: ["admin.example.com", "*.admin.example.com"]
    paths: ["/**"]
    groups: [admins]
  - { id: app, effect: allow, hosts: [app.example.com], paths: ["/**"], groups: [staff, contractors] }
  - { id: alice-reports, effect: allow, hosts: ["app.example.com:8443"], paths: ["/reports/*/view"], subjects: [alice] }
  - { id: no-deletes-for-contractors, effect: deny, paths: ["/api/**"], methods: [DELETE], groups: [contractors] }
  - { id: secret-locked, effect: deny, paths: ["/Secret/**", "/api/secret/**"] }
  - { id: reports-from-office, effect: deny, paths: ["/reports/**"], notSourceIps: ["203.0.113.0/24", "2001:db8::/32"] }
  - { id: internal-only-for-admins, effect: deny, paths: ["/internal/**"], notGroups: [admins] }
  - { id: metrics-for-ops-in-network, effect: allow, paths: ["/metrics"], groups: [ops], sourceIps: ["10.0.0.0/8"] }
  - { id: exact-trailing, effect: allow, public: true, paths: ["/exact/"] }
  - { id: one-file, effect: allow, public: true, paths: ["/files/*"] }
  - { id: shared-not-bob, effect: allow, paths: ["/shared/**"], notSubjects: [bob] }
  - { id: raw-not-readable, effect: deny, paths: ["/raw/**"], methods: [get] }
  - { id: clinic-lab, effect: allow, paths: ["/lab/**"], idps: ["${CLINIC}"] }
  - { id: hospital-staff-records, effect: allow, paths: ["/records/**"], idps: ["${HOSPITAL}", "urn:example:idp:archive"], groups: [staff] }
  - { id: no-billing-from-clinic, effect: deny, paths: ["/billing/**", "/lab/billing/**", "/docs/billing/**"], idps: ["${CLINIC}"] }
`;

function load(text: string): Policy {
  const r = parsePolicy(text);
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.policy;
}
const compiled = compilePolicy(load(POLICY));

const anon = null;
/** Signed in at the hospital's IdP (as every token now says), at another IdP, or a token that names none. */
const who = (subject: string, ...groups: string[]): Identity => ({ subject, groups, idp: HOSPITAL });
const from = (idp: string, subject: string, ...groups: string[]): Identity => ({ subject, groups, idp });
const noIdp = (subject: string, ...groups: string[]): Identity => ({ subject, groups, idp: null });
const allow = (ruleId: string): Decision => ({ outcome: 'allow', reason: 'allow_rule', ruleId, public: false });
const pub = (ruleId: string): Decision => ({ outcome: 'allow', reason: 'public_rule', ruleId, public: true });
const deny = (ruleId: string): Decision => ({ outcome: 'deny', reason: 'explicit_deny', ruleId });
const implicit: Decision = { outcome: 'deny', reason: 'no_matching_rule' };
const signIn = (ruleId?: string): Decision =>
  ruleId ? { outcome: 'unauthenticated', reason: 'authentication_required', ruleId } : { outcome: 'unauthenticated', reason: 'authentication_required' };

type Row = [name: string, request: string, identity: Identity | null, expected: Decision, ip?: string];
const APP = 'app.example.com';
const rows: Row[] = [
  // public rules, globs
  ['public docs need no token', `GET ${APP} /docs/guide`, anon, pub('docs-public')],
  ['"/docs/**" matches /docs', `GET ${APP} /docs`, anon, pub('docs-public')],
  ['"/docs/**" matches /docs/', `GET ${APP} /docs/`, anon, pub('docs-public')],
  ['"/docs/**" matches deep paths', `HEAD ${APP} /docs/a/b/c`, anon, pub('docs-public')],
  ['"/docs/**" does not match /docsx', `GET ${APP} /docsx`, anon, signIn()],
  ['allow rules match case-sensitively', `GET other.example.com /DOCS/guide`, anon, signIn()],
  ['a public rule limited to GET does not admit POST anonymously', `POST ${APP} /docs/x`, anon, signIn()],
  ['a signed-in user gets the public rule too', `GET other.example.com /docs/x`, who('u', 'staff'), pub('docs-public')],
  ['"/files/*" matches one segment', `GET ${APP} /files/a.txt`, anon, pub('one-file')],
  ['"/files/*" does not match two segments', `GET ${APP} /files/a/b`, anon, signIn()],
  ['"/files/*" does not match an empty segment', `GET ${APP} /files/`, anon, signIn()],
  ['"/exact/" matches with the trailing slash', `GET ${APP} /exact/`, anon, pub('exact-trailing')],
  ['"/exact/" does not match without it', `GET x.example.com /exact`, anon, signIn()],
  // deny precedence
  ['a deny beats a public allow', `GET ${APP} /docs/drafts/x`, anon, deny('drafts-closed')],
  ['a deny beats a public allow for a signed-in user', `GET ${APP} /docs/drafts`, who('u', 'staff'), deny('drafts-closed')],
  ['denies DELETE /api/x for group contractors', `DELETE ${APP} /api/x`, who('c', 'contractors'), deny('no-deletes-for-contractors')],
  ['deny paths ignore case', `DELETE ${APP} /API/X`, who('c', 'contractors'), deny('no-deletes-for-contractors')],
  ['contractors may GET /api/x', `GET ${APP} /api/x`, who('c', 'contractors'), allow('app')],
  ['staff may DELETE /api/x', `DELETE ${APP} /api/x`, who('s', 'staff'), allow('app')],
  ['of two applicable denies the first in the file is named', `DELETE ${APP} /api/secret/x`, who('c', 'contractors'), deny('no-deletes-for-contractors')],
  ['an unconditional deny holds for everyone', `GET ${APP} /secret/x`, who('s', 'staff'), deny('secret-locked')],
  ['an unconditional deny matches /Secret itself', `GET ${APP} /secret`, who('s', 'staff'), deny('secret-locked')],
  ['an unconditional deny ignores case', `GET ${APP} /SeCrEt/x`, who('s', 'staff'), deny('secret-locked')],
  ['a deny folds the long s', `GET ${APP} /ſecret/x`, who('s', 'staff'), deny('secret-locked')],
  ['a deny folds fullwidth letters', `GET ${APP} /ｓｅｃｒｅｔ/x`, who('s', 'staff'), deny('secret-locked')],
  ['an unconditional deny is final for an anonymous request', `GET ${APP} /secret/x`, anon, deny('secret-locked')],
  ['anonymous: a deny it escapes and no public rule means sign in', `DELETE ${APP} /api/x`, anon, signIn()],
  ['anonymous: an identity deny that holds means sign in', `GET ${APP} /internal/x`, anon, signIn('internal-only-for-admins')],
  ['a notGroups deny applies to others', `GET ${APP} /internal/x`, who('s', 'staff'), deny('internal-only-for-admins')],
  ['a notGroups deny spares the group', `GET admin.example.com /internal/x`, who('a', 'admins'), allow('admin-console')],
  // implicit deny
  ['no rule: implicit deny', `GET nowhere.example.com /x`, who('s', 'staff'), implicit],
  ['anonymous, no rule: sign in', `GET nowhere.example.com /x`, anon, signIn()],
  ['a non-public allow never applies anonymously', `GET ${APP} /x`, anon, signIn()],
  // hosts
  ['exact host', `GET admin.example.com /x`, who('a', 'admins'), allow('admin-console')],
  ['a host rule without a port matches any port', `GET admin.example.com:8443 /x`, who('a', 'admins'), allow('admin-console')],
  ['"*.admin.example.com" matches one label', `GET eu.admin.example.com /x`, who('a', 'admins'), allow('admin-console')],
  ['"*.admin.example.com" does not match two labels', `GET a.eu.admin.example.com /x`, who('a', 'admins'), implicit],
  ['"*.admin.example.com" does not match the parent', `GET example.com /x`, who('a', 'admins'), implicit],
  ['the wrong group on the right host', `GET admin.example.com /x`, who('s', 'staff'), implicit],
  ['a host rule with a port needs that port', `GET ${APP}:8443 /reports/q1/view`, who('alice'), allow('alice-reports'), '203.0.113.5'],
  ['a host rule with a port refuses another', `GET ${APP}:9443 /reports/q1/view`, who('alice'), implicit, '203.0.113.5'],
  ['a host rule with a port refuses no port', `GET ${APP} /reports/q1/view`, who('alice'), implicit, '203.0.113.5'],
  ['"*" in the middle', `GET ${APP}:8443 /reports/q1/x/view`, who('alice'), implicit, '203.0.113.5'],
  ['another subject', `GET ${APP}:8443 /reports/q1/view`, who('mallory'), implicit, '203.0.113.5'],
  // network conditions narrow, never grant
  ['a network deny from outside the office', `GET ${APP}:8443 /reports/q1/view`, who('alice'), deny('reports-from-office'), '198.51.100.1'],
  ['a network deny lets IPv6 office addresses pass', `GET ${APP}:8443 /reports/q1/view`, who('alice'), allow('alice-reports'), '2001:db8::5'],
  ['IPv4-mapped addresses count as IPv4', `GET ${APP}:8443 /reports/q1/view`, who('alice'), allow('alice-reports'), '::ffff:203.0.113.5'],
  ['an unknown address: a deny network condition holds', `GET ${APP}:8443 /reports/q1/view`, who('alice'), deny('reports-from-office'), ''],
  ['a network deny applies anonymously', `GET ${APP} /reports/x`, anon, deny('reports-from-office'), '198.51.100.1'],
  ['being in the network grants nothing by itself', `GET ${APP} /reports/x`, who('nobody'), implicit, '203.0.113.5'],
  ['network and group together', `GET ${APP} /metrics`, who('o', 'ops'), allow('metrics-for-ops-in-network'), '10.1.2.3'],
  ['the group outside the network', `GET ${APP} /metrics`, who('o', 'ops'), implicit, '8.8.8.8'],
  ['an unknown address: an allow network condition does not hold', `GET ${APP} /metrics`, who('o', 'ops'), implicit, 'garbage'],
  ['the network without the group', `GET ${APP} /metrics`, who('x', 'dev'), implicit, '10.1.2.3'],
  // negated subjects
  ['notSubjects admits others', `GET ${APP} /shared/x`, who('carol'), allow('shared-not-bob')],
  ['notSubjects refuses the subject', `GET ${APP} /shared/x`, who('bob'), implicit],
  ['notSubjects does not admit anonymous', `GET ${APP} /shared/x`, anon, signIn()],
  // methods
  ['a deny naming GET (written get) denies GET', `GET other.example.com /raw/x`, who('s', 'staff'), deny('raw-not-readable')],
  ['a deny naming GET also denies HEAD', `HEAD other.example.com /raw/x`, who('s', 'staff'), deny('raw-not-readable')],
  ['a deny naming GET does not deny POST', `POST other.example.com /raw/x`, who('s', 'staff'), implicit],
  ['an allow naming GET, HEAD admits HEAD', `HEAD ${APP} /docs/x`, anon, pub('docs-public')],
  // idps: the IdP the token was issued after (claim idp)
  ['an idps allow admits a user of that IdP', `GET other.example.com /lab/x`, from(CLINIC, 'p@clinic'), allow('clinic-lab')],
  ['an idps allow refuses a user of another IdP', `GET other.example.com /lab/x`, who('s', 'staff'), implicit],
  ['an idps allow refuses a token that names no IdP', `GET other.example.com /lab/x`, noIdp('p@clinic'), implicit],
  ['an idps allow never applies anonymously', `GET other.example.com /lab/x`, anon, signIn()],
  ['idps compare exactly (no trailing slash, case as written)', `GET other.example.com /lab/x`, from(`${CLINIC}/`, 'p'), implicit],
  ['idps compare exactly (case)', `GET other.example.com /lab/x`, from(CLINIC.toUpperCase(), 'p'), implicit],
  ['idps and groups both hold', `GET other.example.com /records/x`, who('s', 'staff'), allow('hospital-staff-records')],
  ['any listed IdP will do', `GET other.example.com /records/x`, from('urn:example:idp:archive', 'a', 'staff'), allow('hospital-staff-records')],
  ['idps hold, groups do not', `GET other.example.com /records/x`, who('d', 'dev'), implicit],
  ['groups hold, idps do not', `GET other.example.com /records/x`, from(CLINIC, 'c', 'staff'), implicit],
  ['an idps deny applies to a user of that IdP', `GET ${APP} /billing/x`, from(CLINIC, 'c', 'staff'), deny('no-billing-from-clinic')],
  ['an idps deny spares users of other IdPs', `GET ${APP} /billing/x`, who('s', 'staff'), allow('app')],
  ['an idps deny applies to a token that names no IdP (fails closed)', `GET ${APP} /billing/x`, noIdp('s', 'staff'), deny('no-billing-from-clinic')],
  ['an idps deny beats an idps allow for the same IdP', `GET other.example.com /lab/billing/x`, from(CLINIC, 'p'), deny('no-billing-from-clinic')],
  ['anonymous: an idps deny does not hold (no IdP), sign in', `GET ${APP} /billing/x`, anon, signIn()],
  ['anonymous: an idps deny leaves a public rule public', `GET ${APP} /docs/billing/x`, anon, pub('docs-public')],
  ['an idps deny beats a public rule for a user of that IdP', `GET ${APP} /docs/billing/x`, from(CLINIC, 'p'), deny('no-billing-from-clinic')],
];

for (const [name, line, identity, expected, ip] of rows) {
  t.test(name, async (t) => {
    const [method = '', host = '', path = ''] = line.split(' ');
    const request = { method, host, path, clientIp: ip ?? '192.0.2.1' };
    t.same(evaluate(compiled, request, identity), expected, 'indexed evaluation');
    t.same(explainDecision(compiled, request, identity).decision, expected, 'explanation');
  });
}

t.test('an empty policy denies everything', async (t) => {
  const empty = compilePolicy(load('rules: []'));
  const request = { method: 'GET', host: 'a.com', path: '/', clientIp: '1.2.3.4' };
  t.same(evaluate(empty, request, who('u')), implicit);
  t.same(evaluate(empty, request, null), signIn());
});

t.test('the index agrees with the reference evaluation on generated requests', async (t) => {
  let seed = 42;
  const pick = <T>(xs: readonly T[]): T => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return xs[seed % xs.length] as T;
  };
  const hosts = [APP, `${APP}:8443`, 'admin.example.com', 'eu.admin.example.com', 'x.y.admin.example.com', 'other.com'];
  const segs = ['raw', 'docs', 'drafts', 'api', 'API', 'secret', 'Secret', 'reports', 'q1', 'view', 'internal', 'metrics', 'exact', 'files', 'shared', 'lab', 'records', 'billing', 'x', ''];
  const ids = [
    null, who('alice'), who('bob'), who('c', 'contractors'), who('s', 'staff'), who('a', 'admins', 'ops'), who('o', 'ops'),
    from(CLINIC, 'p'), from(CLINIC, 'c', 'staff', 'contractors'), from('urn:example:idp:archive', 'r', 'staff'), noIdp('s', 'staff'), noIdp('a', 'admins'),
  ];
  const ips = ['203.0.113.5', '198.51.100.1', '10.0.0.1', '2001:db8::1', '', 'bad'];
  let mismatches = 0;
  for (let i = 0; i < 5000; i++) {
    const depth = 1 + (i % 4);
    const parts = Array.from({ length: depth }, () => pick(segs));
    const path = `/${parts.join('/')}`.replace(/\/{2,}/g, '/');
    const request = { method: pick(['GET', 'HEAD', 'POST', 'DELETE']), host: pick(hosts), path, clientIp: pick(ips) };
    const identity = pick(ids);
    const fast = evaluate(compiled, request, identity);
    const slow = explainDecision(compiled, request, identity).decision;
    if (JSON.stringify(fast) !== JSON.stringify(slow)) {
      mismatches++;
      if (mismatches < 5) t.same(fast, slow, JSON.stringify({ request, identity }));
    }
  }
  t.equal(mismatches, 0);
});

t.test('applies is the conjunction of the conditions explain shows, for every rule and identity', async (t) => {
  const identities = [ANONYMOUS, who('s', 'staff'), from(CLINIC, 'p'), from(CLINIC, 'c', 'contractors'), noIdp('s', 'staff'), noIdp('a', 'admins', 'ops')];
  const clients = ['203.0.113.5', '10.0.0.1', 'bad'].map(clientOf);
  let checked = 0;
  for (const r of compiled.rules) {
    for (const identity of identities) {
      for (const client of clients) {
        const each = CONDITION_KEYS.every((k) => holds(r, k, identity, client));
        if (applies(r, identity, client) !== each) t.fail(`${r.id} for ${JSON.stringify(identity)} from ${client.ip}`);
        checked++;
      }
    }
  }
  t.equal(checked, compiled.rules.length * identities.length * clients.length);
});
