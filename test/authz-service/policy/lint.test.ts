import t from 'tap';
import { lintPolicy, parsePolicy } from '../../../services/authz-service/policy/index.js';

type Row = [name: string, rules: string[], expected: [code: string, ruleId: string | null][]];
const rows: Row[] = [
  ['an empty policy', [], [['empty_policy', null]]],
  ['a clean policy', ['{ id: a, effect: allow, paths: ["/**"], groups: [staff] }'], []],
  ['an allow on a network alone (the AWS pitfall)', ['{ id: office, effect: allow, paths: ["/redeem"], sourceIps: ["10.0.0.0/8"] }'], [['network_only_allow', 'office']]],
  ['an allow on a negated network alone', ['{ id: office, effect: allow, paths: ["/x"], notSourceIps: ["10.0.0.0/8"] }'], [['network_only_allow', 'office']]],
  ['a network condition with an identity one is fine', ['{ id: a, effect: allow, paths: ["/x"], groups: [g], sourceIps: ["10.0.0.0/8"] }'], []],
  ['a public rule narrowed by network is fine', ['{ id: a, effect: allow, public: true, paths: ["/x"], sourceIps: ["10.0.0.0/8"] }'], []],
  ['an allow for any signed-in user is fine', ['{ id: a, effect: allow, paths: ["/x"] }'], []],
  ['contradictory groups', ['{ id: a, effect: allow, paths: ["/x"], groups: [g], notGroups: [g, h] }'], [['never_matches', 'a']]],
  ['contradictory subjects in a deny', ['{ id: d, effect: deny, paths: ["/x/**"], subjects: [s], notSubjects: [s] }'], [['never_matches', 'd']]],
  ['groups partly negated can still match', ['{ id: a, effect: allow, paths: ["/x"], groups: [g, h], notGroups: [g] }'], []],
  ['an allow under a broader deny', ['{ id: a, effect: allow, paths: ["/api/v1/*"], methods: [GET] }', '{ id: d, effect: deny, paths: ["/API/**"] }'], [['shadowed_by_deny', 'a']]],
  ['an allow under a deny with implied conditions', [
    '{ id: a, effect: allow, paths: ["/x/**"], groups: [contractors] }',
    '{ id: d, effect: deny, paths: ["/**"], groups: [contractors, vendors] }',
  ], [['shadowed_by_deny', 'a']]],
  ['an allow the deny does not always reach overlaps it', [
    '{ id: a, effect: allow, paths: ["/x/**"], groups: [staff] }',
    '{ id: d, effect: deny, paths: ["/x/y/**"], groups: [contractors] }',
  ], [['overlapping_allow_deny', 'a']]],
  ['a deny on other hosts does not overlap', [
    '{ id: a, effect: allow, hosts: [a.com], paths: ["/**"] }',
    '{ id: d, effect: deny, hosts: ["*.b.com"], paths: ["/**"] }',
  ], []],
  ['a deny on other methods does not overlap', [
    '{ id: a, effect: allow, methods: [GET], paths: ["/**"] }',
    '{ id: d, effect: deny, methods: [DELETE], paths: ["/**"] }',
  ], []],
  ['a deny covering only some hosts does not shadow', [
    '{ id: a, effect: allow, hosts: [a.com, b.com], paths: ["/x"] }',
    '{ id: d, effect: deny, hosts: [a.com], paths: ["/**"] }',
  ], [['overlapping_allow_deny', 'a']]],
  ['a wildcard host deny shadows its subdomain', [
    '{ id: a, effect: allow, hosts: [x.b.com], paths: ["/x"] }',
    '{ id: d, effect: deny, hosts: ["*.b.com"], paths: ["/**"] }',
  ], [['shadowed_by_deny', 'a']]],
  ['a redundant deny', ['{ id: d1, effect: deny, paths: ["/**"] }', '{ id: d2, effect: deny, paths: ["/x/**"], groups: [g] }'], [['shadowed_by_deny', 'd2']]],
  ['a deny scoped to a port (the client writes the port)', ['{ id: d, effect: deny, hosts: ["app.example.com:443"], paths: ["/admin/**"] }'], [['host_with_port', 'd']]],
  ['an allow scoped to a port, wildcard host', ['{ id: a, effect: allow, hosts: ["*.example.com:8443"], paths: ["/x"] }'], [['host_with_port', 'a']]],
  ['a host without a port is fine', ['{ id: a, effect: allow, hosts: ["app.example.com"], paths: ["/x"] }'], []],
  ['a site-wide public rule', ['{ id: p, effect: allow, public: true, paths: ["/**"] }'], [['site_wide_public', 'p']]],
  ['a public rule on "/**" of one host is not site-wide', ['{ id: p, effect: allow, public: true, hosts: [docs.example.com], paths: ["/**"] }'], []],
  ['a public rule on a subtree is not site-wide', ['{ id: p, effect: allow, public: true, paths: ["/docs/**"] }'], []],
  ['a deny on an exact path', ['{ id: d, effect: deny, paths: ["/admin"] }'], [['deny_exact_path', 'd']]],
  ['idps written as URIs and URNs are fine', ['{ id: a, effect: allow, paths: ["/lab/**"], idps: ["https://idp.clinic.example/saml", "urn:mace:example:idp", "http://sts.example/adfs/services/trust"] }'], []],
  ['an idp written as a host name', ['{ id: a, effect: allow, paths: ["/lab/**"], idps: ["https://idp.clinic.example/saml", "idp.hospital.example"] }'], [['idp_not_uri', 'a']]],
  ['an idp written as a display name, in a deny', ['{ id: d, effect: deny, paths: ["/x/**"], idps: ["Partner Clinic"] }'], [['idp_not_uri', 'd']]],
  ['an idp with white space', ['{ id: a, effect: allow, paths: ["/x"], idps: ["https://idp.example/saml "] }'], [['idp_not_uri', 'a']]],
  ['an allow under a deny for the same IdP', [
    '{ id: a, effect: allow, paths: ["/lab/**"], idps: ["https://idp.clinic.example/saml"] }',
    '{ id: d, effect: deny, paths: ["/**"], idps: ["https://idp.clinic.example/saml", "urn:other"] }',
  ], [['shadowed_by_deny', 'a']]],
  ['an allow for another IdP than the deny overlaps it', [
    '{ id: a, effect: allow, paths: ["/lab/**"], idps: ["https://idp.hospital.example/saml"] }',
    '{ id: d, effect: deny, paths: ["/**"], idps: ["https://idp.clinic.example/saml"] }',
  ], [['overlapping_allow_deny', 'a']]],
];

for (const [name, rules, expected] of rows) {
  t.test(name, async (t) => {
    const parsed = parsePolicy(rules.length ? `rules:\n${rules.map((r) => `  - ${r}`).join('\n')}` : 'rules: []');
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    t.same(lintPolicy(parsed.policy).map((f) => [f.code, f.ruleId]), expected);
  });
}

t.test('findings name the rule and carry their severity', async (t) => {
  const parsed = parsePolicy('rules:\n  - { id: office, effect: allow, paths: ["/redeem"], sourceIps: ["10.0.0.0/8"] }');
  if (!parsed.ok) throw new Error('invalid');
  const [finding] = lintPolicy(parsed.policy);
  t.equal(finding?.severity, 'error');
  t.match(finding?.message, /^rule "office" \(#1\): grants on a network condition alone/);
});

t.test('an idp that is not a URI is a warning that names the value', async (t) => {
  const parsed = parsePolicy('rules:\n  - { id: lab, effect: allow, paths: ["/lab/**"], idps: [clinic] }');
  if (!parsed.ok) throw new Error('invalid');
  const [finding] = lintPolicy(parsed.policy);
  t.equal(finding?.severity, 'warning');
  t.match(finding?.message, /^rule "lab" \(#1\): idps "clinic": an IdP entity id is a URI or URN/);
});
