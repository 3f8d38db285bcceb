import t from 'tap';
import { parsePolicy } from '../../../services/authz-service/policy/index.js';

type Row = [name: string, yaml: string, problems: string[]];
const rule = (body: string) => `rules:\n  - ${body}\n`;
const rows: Row[] = [
  ['no rules key', 'version: 1', ['rules: required, a list of rules']],
  ['rules is not a list', 'rules: {}', ['rules: required, a list of rules']],
  ['not a mapping', '- a', ['the policy must be a mapping with a "rules" list']],
  ['a wrong version', 'version: 2\nrules: []', ['version: must be 1']],
  ['an unknown top-level key', 'rule: []\nrules: []', ['unknown top-level key "rule" (known: version, rules)']],
  ['a rule that is not a mapping', 'rules: [allow-all]', ['rule #1: must be a mapping']],
  ['a missing id', rule('{ effect: allow, paths: ["/"] }'), ['rule #1: id: required']],
  ['a bad id', rule('{ id: "a b", effect: allow, paths: ["/"] }'), ['rule #1: id: "a b" must be 1–64 of A-Z a-z 0-9 . _ -']],
  ['a duplicate id', 'rules:\n  - { id: a, effect: allow, paths: ["/"] }\n  - { id: a, effect: deny, paths: ["/x"] }', ['rule "a" (#2): id: duplicate of rule #1']],
  ['a missing effect', rule('{ id: a, paths: ["/"] }'), ['rule "a" (#1): effect: required, "allow" or "deny"']],
  ['an unknown effect', rule('{ id: a, effect: permit, paths: ["/"] }'), ['rule "a" (#1): effect: required, "allow" or "deny"']],
  ['an unknown key (a typo must not widen a rule)', rule('{ id: a, effect: allow, paths: ["/"], group: [admins] }'), [
    'rule "a" (#1): unknown key "group" (known: id, effect, public, paths, methods, hosts, subjects, groups, idps, sourceIps, notSubjects, notGroups, notSourceIps, upstreamJwt, audience)',
  ]],
  ['a public deny', rule('{ id: a, effect: deny, public: true, paths: ["/"] }'), ['rule "a" (#1): public: only an allow rule can be public']],
  ['public is not a boolean', rule('{ id: a, effect: allow, public: "yes", paths: ["/"] }'), ['rule "a" (#1): public: must be true or false']],
  ['a public rule with identity conditions', rule('{ id: a, effect: allow, public: true, paths: ["/"], notGroups: [x] }'), [
    'rule "a" (#1): public: a public rule needs no token, so it cannot have subjects, groups, idps, notSubjects or notGroups',
  ]],
  ['a public rule naming idps', rule('{ id: a, effect: allow, public: true, paths: ["/"], idps: ["https://idp.example.com/saml"] }'), [
    'rule "a" (#1): public: a public rule needs no token, so it cannot have subjects, groups, idps, notSubjects or notGroups',
  ]],
  ['an empty idps list', rule('{ id: a, effect: allow, paths: ["/"], idps: [] }'), [
    'rule "a" (#1): idps: must be a non-empty list (omit the key to mean "any")',
  ]],
  ['idps that is not a list', rule('{ id: a, effect: deny, paths: ["/"], idps: "https://idp.example.com/saml" }'), [
    'rule "a" (#1): idps: must be a non-empty list (omit the key to mean "any")',
  ]],
  ['an empty entity id', rule('{ id: a, effect: allow, paths: ["/"], idps: ["https://idp.example.com/saml", ""] }'), ['rule "a" (#1): idps[1] "": must not be empty']],
  ['an entity id that is not a string', rule('{ id: a, effect: allow, paths: ["/"], idps: [{ entityId: x }] }'), ['rule "a" (#1): idps[0]: must be a string, got {"entityId":"x"}']],
  ['an entity id listed twice', rule('{ id: a, effect: deny, paths: ["/"], idps: ["https://a.example/saml", "urn:b", "https://a.example/saml"] }'), [
    'rule "a" (#1): idps[2] "https://a.example/saml": is listed twice',
  ]],
  ['missing paths', rule('{ id: a, effect: allow }'), ['rule "a" (#1): paths: required, a non-empty list']],
  ['empty paths', rule('{ id: a, effect: allow, paths: [] }'), ['rule "a" (#1): paths: must be a non-empty list (omit the key to mean "any")']],
  ['a wildcard inside a segment', rule('{ id: admin-console, effect: allow, paths: ["/", "/a*b"] }'), [
    'rule "admin-console" (#1): paths[1] "/a*b": wildcards must be a whole segment ("*" or "**")',
  ]],
  ['"**" not last', rule('{ id: a, effect: allow, paths: ["/**/x"] }'), ['rule "a" (#1): paths[0] "/**/x": "**" is only allowed as the last segment']],
  ['a relative path', rule('{ id: a, effect: allow, paths: ["docs/**"] }'), ['rule "a" (#1): paths[0] "docs/**": must start with "/"']],
  ['a query in a path', rule('{ id: a, effect: allow, paths: ["/a?b"] }'), ['rule "a" (#1): paths[0] "/a?b": must not contain "?" or "#" (rules see the path only)']],
  ['an escape in a path', rule('{ id: a, effect: allow, paths: ["/caf%C3%A9"] }'), [
    'rule "a" (#1): paths[0] "/caf%C3%A9": must not contain percent-escapes: rules match the decoded path, write the character itself',
  ]],
  ['a dot segment', rule('{ id: a, effect: allow, paths: ["/a/../b"] }'), ['rule "a" (#1): paths[0] "/a/../b": dot segments never reach the rules']],
  ['a repeated slash', rule('{ id: a, effect: allow, paths: ["/a//b"] }'), ['rule "a" (#1): paths[0] "/a//b": empty segment: repeated slashes never reach the rules']],
  ['an unknown method', rule('{ id: a, effect: allow, paths: ["/"], methods: [GETT] }'), [
    'rule "a" (#1): methods[0] "GETT": is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, …)',
  ]],
  ['a method that is not a token', rule('{ id: a, effect: deny, paths: ["/"], methods: ["DELETE "] }'), [
    'rule "a" (#1): methods[0] "DELETE ": is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, …)',
  ]],
  ['a bad host', rule('{ id: a, effect: allow, paths: ["/"], hosts: ["a.com/x"] }'), [
    'rule "a" (#1): hosts[0] "a.com/x": must be a host name, an IP address or "*.domain", with an optional ":port"',
  ]],
  ['a deep wildcard host', rule('{ id: a, effect: allow, paths: ["/"], hosts: ["*.*.a.com"] }'), [
    'rule "a" (#1): hosts[0] "*.*.a.com": must be a host name, an IP address or "*.domain", with an optional ":port"',
  ]],
  ['a bad CIDR', rule('{ id: a, effect: deny, paths: ["/"], notSourceIps: ["10.0.0.0/33"] }'), [
    'rule "a" (#1): notSourceIps[0] "10.0.0.0/33": "10.0.0.0/33" has an invalid prefix length (0–32 for IPv4)',
  ]],
  ['a host name as a CIDR', rule('{ id: a, effect: deny, paths: ["/"], sourceIps: ["office"] }'), [
    'rule "a" (#1): sourceIps[0] "office": "office" is not an IPv4 or IPv6 address or CIDR',
  ]],
  ['a number as a group', rule('{ id: a, effect: allow, paths: ["/"], groups: [42] }'), ['rule "a" (#1): groups[0]: must be a string, got 42']],
  ['an empty condition list', rule('{ id: a, effect: allow, paths: ["/"], groups: [] }'), [
    'rule "a" (#1): groups: must be a non-empty list (omit the key to mean "any")',
  ]],
  ['an empty group name', rule('{ id: a, effect: allow, paths: ["/"], groups: [""] }'), ['rule "a" (#1): groups[0] "": must not be empty']],
  ['upstreamJwt on a deny', rule('{ id: a, effect: deny, paths: ["/"], upstreamJwt: true }'), ['rule "a" (#1): upstreamJwt: only an allow rule sends an upstream assertion']],
  ['upstreamJwt on a public rule', rule('{ id: a, effect: allow, public: true, paths: ["/"], upstreamJwt: true }'), [
    'rule "a" (#1): upstreamJwt: a public rule admits requests without a token, so it has no identity to assert',
  ]],
  ['upstreamJwt is not a boolean', rule('{ id: a, effect: allow, paths: ["/"], upstreamJwt: "yes" }'), ['rule "a" (#1): upstreamJwt: must be true or false']],
  ['an audience on a public rule', rule('{ id: a, effect: allow, public: true, paths: ["/"], audience: x }'), [
    'rule "a" (#1): audience: a public rule admits requests without a token, so it has no identity to assert',
  ]],
  ['an audience on a deny', rule('{ id: a, effect: deny, paths: ["/"], audience: x }'), ['rule "a" (#1): audience: only an allow rule sends an upstream assertion']],
  ['an audience with a space', rule('{ id: a, effect: allow, paths: ["/"], upstreamJwt: true, audience: "orders api" }'), [
    'rule "a" (#1): audience: must be 1–256 visible ASCII characters (a host name or a URI), no spaces',
  ]],
  ['an empty audience', rule('{ id: a, effect: allow, paths: ["/"], audience: "" }'), [
    'rule "a" (#1): audience: must be 1–256 visible ASCII characters (a host name or a URI), no spaces',
  ]],
  ['every problem at once', 'rules:\n  - { id: a, effect: allow, paths: ["x"], methods: [gett] }\n  - { id: b, paths: [] }', [
    'rule "a" (#1): paths[0] "x": must start with "/"',
    'rule "a" (#1): methods[0] "gett": is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, …)',
    'rule "b" (#2): effect: required, "allow" or "deny"',
    'rule "b" (#2): paths: must be a non-empty list (omit the key to mean "any")',
  ]],
];

for (const [name, yaml, problems] of rows) {
  t.test(`refuses ${name}`, async (t) => t.same(parsePolicy(yaml), { ok: false, problems }));
}

t.test('refuses YAML errors and duplicate keys', async (t) => {
  const dup = parsePolicy('rules: []\nrules: []');
  t.equal(dup.ok, false);
  t.match(!dup.ok && dup.problems[0], /^YAML: .*unique/i);
  const broken = parsePolicy('rules: [');
  t.equal(broken.ok, false);
});

t.test('accepts a full rule', async (t) => {
  const r = parsePolicy(`
version: 1
rules:
  - id: everything
    effect: allow
    paths: ["/", "/a/", "/b/*/c", "/d/**", "/**"]
    methods: [GET, PROPFIND]
    hosts: ["App.Example.com", "*.example.com:8443", "10.0.0.1", "[::1]:8080"]
    subjects: [alice]
    groups: [g]
    sourceIps: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]
    notSubjects: [bob]
    notGroups: [h]
    notSourceIps: ["10.9.0.0/16"]
    idps: ["https://idp.hospital.example/saml", "urn:example:idp", "https://idp.hospital.example/saml/"]
`);
  t.ok(r.ok);
  if (!r.ok) return;
  const rule = r.policy.rules[0];
  t.same(rule?.paths.map((p) => p.segments), [[''], ['a', ''], ['b', '*', 'c'], ['d', '**'], ['**']]);
  t.same(rule?.hosts?.map((h) => [h.name, h.wildcard, h.port]), [
    ['app.example.com', false, null],
    ['example.com', true, '8443'],
    ['10.0.0.1', false, null],
    ['[::1]', false, '8080'],
  ]);
  t.same(rule?.conditions.notSourceIps, ['10.9.0.0/16']);
  t.same(rule?.conditions.idps, ['https://idp.hospital.example/saml', 'urn:example:idp', 'https://idp.hospital.example/saml/'], 'entity ids as written (a trailing slash is another id)');
});

t.test('idps: null when absent', async (t) => {
  const r = parsePolicy('rules:\n  - { id: a, effect: allow, paths: ["/"], groups: [g] }');
  t.same(r.ok && r.policy.rules[0]?.conditions.idps, null);
});

t.test('upstreamJwt and audience: read as written, off and null when absent', async (t) => {
  const r = parsePolicy('rules:\n  - { id: a, effect: allow, paths: ["/"], upstreamJwt: true, audience: "https://orders.example.com" }\n  - { id: b, effect: allow, paths: ["/b"], audience: b-api }\n  - { id: c, effect: allow, paths: ["/c"], upstreamJwt: false }');
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.policy.rules.map((x) => [x.upstreamJwt, x.audience]), [[true, 'https://orders.example.com'], [false, 'b-api'], [false, null]]);
});

t.test('methods: any case, upper-cased; GET also covers HEAD; duplicates dropped', async (t) => {
  const methodsOf = (list: string) => {
    const r = parsePolicy(`rules:\n  - { id: a, effect: deny, paths: ["/"], methods: ${list} }`);
    return r.ok ? r.policy.rules[0]?.methods : r.problems;
  };
  t.same(methodsOf('[get]'), ['GET', 'HEAD'], 'get → GET, and HEAD added');
  t.same(methodsOf('[Delete, DELETE]'), ['DELETE'], 'Delete and DELETE are one method');
  t.same(methodsOf('[GET, HEAD]'), ['GET', 'HEAD'], 'HEAD not added twice');
  t.same(methodsOf('[HEAD]'), ['HEAD'], 'HEAD alone does not cover GET');
  t.same(methodsOf('[propfind, M-SEARCH]'), ['PROPFIND', 'M-SEARCH'], 'extension methods Node parses');
});

t.test('an empty rule list is valid', async (t) => t.same(parsePolicy('rules: []'), { ok: true, policy: { version: 1, rules: [] } }));
