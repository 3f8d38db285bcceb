import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runPolicyCli } from '../../../services/authz-service/cli/policy.js';

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runPolicyCli(args, (l) => lines.push(l));
  return { code, out: lines.join('\n') };
}

const dir = await mkdtemp(join(tmpdir(), 'policy-cli-'));
const file = async (name: string, text: string) => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};
const networkOnly = await file('network.yaml', 'rules:\n  - { id: office, effect: allow, paths: ["/redeem"], sourceIps: ["10.0.0.0/8"] }\n');
const invalid = await file('invalid.yaml', 'rules:\n  - { id: a, effect: allow, paths: ["/a*b"] }\n');
const warnOnly = await file('warn.yaml', 'rules: []\n');
const asserting = await file('upstream.yaml', 'rules:\n  - { id: orders, effect: allow, paths: ["/orders/**"], groups: [staff], upstreamJwt: true, audience: orders-api }\n  - { id: app, effect: allow, paths: ["/app/**"], groups: [staff], upstreamJwt: true }\n  - { id: docs, effect: allow, public: true, paths: ["/docs/**"] }\n');
const CLINIC = 'https://idp.clinic.example/saml';
const partners = await file('idps.yaml', `rules:
  - { id: staff, effect: allow, paths: ["/**"], groups: [staff], idps: ["https://idp.hospital.example/saml"] }
  - { id: clinic-lab, effect: allow, paths: ["/lab/**"], idps: ["${CLINIC}"] }
  - { id: no-billing-from-clinic, effect: deny, paths: ["/billing/**"], idps: ["${CLINIC}"] }
`);
const explainIdps = (path: string, ...more: string[]) => ['explain', partners, '--method', 'GET', '--url', `https://app.example.com${path}`, ...more];

type Row = [name: string, args: string[], code: number, out: RegExp];
const rows: Row[] = [
  ['lint: the example policy is clean', ['lint', 'examples/policy.yaml'], 0, /examples\/policy\.yaml: 5 rules, 0 errors, 0 warnings/],
  ['lint: warnings alone exit 0', ['lint', warnOnly], 0, /warning empty_policy/],
  ['lint: an error finding exits 1', ['lint', networkOnly], 1, /error   network_only_allow: rule "office" \(#1\): grants on a network condition alone/],
  ['lint: an invalid policy exits 2 and says why', ['lint', invalid], 2, /paths\[0\] "\/a\*b": wildcards must be a whole segment/],
  ['lint: a missing file exits 2', ['lint', join(dir, 'nope.yaml')], 2, /cannot read/],
  ['usage: no command', [], 2, /usage:/],
  ['usage: unknown command', ['check', 'x'], 2, /usage:/],
  ['usage: explain without --url', ['explain', 'examples/policy.yaml', '--method', 'GET'], 2, /needs --method and --url/],
  ['usage: explain with an unknown option', ['explain', 'examples/policy.yaml', '--method', 'GET', '--url', 'https://a.com/', '--group', 'x'], 2, /usage:/],
  ['usage: explain with a relative URL', ['explain', 'examples/policy.yaml', '--method', 'GET', '--url', '/docs'], 2, /not an absolute http\(s\) URL/],
  ['explain: public docs', ['explain', 'examples/policy.yaml', '--method', 'GET', '--url', 'https://app.example.com/docs/x'], 0,
    /decision {2}allow \(public_rule\) by rule "docs-public" → HTTP 200[\s\S]*rule "docs-public" \(#1\) allow \(public\): applies/],
  ['explain: a contractor deleting', ['explain', 'examples/policy.yaml', '--method', 'DELETE', '--url', 'https://app.example.com/api/x', '--groups', 'contractors', '--subject', 'c'], 0,
    /decision {2}deny \(explicit_deny\) by rule "no-deletes-for-contractors" → HTTP 403[\s\S]*groups \[contractors\]: holds/],
  ['explain: anonymous', ['explain', 'examples/policy.yaml', '--method', 'GET', '--url', 'https://app.example.com/', '--anonymous'], 0,
    /decision {2}unauthenticated \(authentication_required\) → HTTP 401/],
  ['explain: reports from the office', ['explain', 'examples/policy.yaml', '--method', 'GET', '--url', 'https://app.example.com/reports/q1', '--groups', 'employees', '--ip', '203.0.113.7'], 0,
    /decision {2}allow \(allow_rule\) by rule "app-employees"/],
  ['explain: upstreamJwt with the rule audience', ['explain', asserting, '--method', 'GET', '--url', 'https://shop.example.com/orders/1', '--groups', 'staff'], 0,
    /decision {2}allow \(allow_rule\) by rule "orders" → HTTP 200\nupstream  X-Auth-Request-Jwt, aud "orders-api"[\s\S]*upstreamJwt: an allow sends X-Auth-Request-Jwt, aud "orders-api"/],
  ['explain: upstreamJwt with the default audience (host without port)', ['explain', asserting, '--method', 'GET', '--url', 'https://app.example.com:8443/app/x', '--groups', 'staff'], 0,
    /upstream  X-Auth-Request-Jwt, aud "app.example.com"\n[\s\S]*aud the request host "app.example.com"/],
  ['explain: a public allow sends no assertion', ['explain', asserting, '--method', 'GET', '--url', 'https://app.example.com/docs/x', '--groups', 'staff'], 0,
    /by rule "docs" → HTTP 200\nrules whose path matches/],
  ['explain: a partner clinic user on the lab path', explainIdps('/lab/results', '--subject', 'p@clinic', '--idp', CLINIC), 0,
    /identity  subject "p@clinic", groups \[\], idp "https:\/\/idp\.clinic\.example\/saml"\n[\s\S]*decision {2}allow \(allow_rule\) by rule "clinic-lab"[\s\S]*rule "clinic-lab" \(#2\) allow: applies\n {6}path "\/lab\/\*\*" matches\n {6}any host\n {6}any method\n {6}idps \[https:\/\/idp\.clinic\.example\/saml\]: holds/],
  ['explain: a partner clinic user elsewhere', explainIdps('/wards', '--groups', 'staff', '--idp', CLINIC), 0,
    /decision {2}deny \(no_matching_rule\) → HTTP 403[\s\S]*idps \[https:\/\/idp\.hospital\.example\/saml\]: does not hold/],
  ['explain: the deny for the clinic IdP', explainIdps('/billing/x', '--groups', 'staff', '--idp', CLINIC), 0,
    /decision {2}deny \(explicit_deny\) by rule "no-billing-from-clinic" → HTTP 403/],
  ['explain: hospital staff pass the clinic deny', explainIdps('/billing/x', '--groups', 'staff', '--idp', 'https://idp.hospital.example/saml'), 0,
    /decision {2}allow \(allow_rule\) by rule "staff"[\s\S]*rule "no-billing-from-clinic" \(#3\) deny: matches, does not apply\n[\s\S]*idps \[https:\/\/idp\.clinic\.example\/saml\]: does not hold/],
  ['explain: without --idp the token names no IdP and fails closed', explainIdps('/billing/x', '--groups', 'staff'), 0,
    /idp none \(idps of allow rules do not hold, of deny rules do\)[\s\S]*decision {2}deny \(explicit_deny\) by rule "no-billing-from-clinic"[\s\S]*idps \[https:\/\/idp\.hospital\.example\/saml\]: does not hold \(the token names no IdP: an allow's idps does not hold\)[\s\S]*idps \[https:\/\/idp\.clinic\.example\/saml\]: holds \(the token names no IdP: a deny's idps holds\)/],
  ['usage: --idp with --anonymous', explainIdps('/lab/x', '--anonymous', '--idp', CLINIC), 2, /--anonymous cannot be combined with --subject, --groups or --idp/],
  ['usage: an empty --idp', explainIdps('/lab/x', '--idp', ''), 2, /--idp: an entity id, not empty/],
  ['explain: an ambiguous path', ['explain', 'examples/policy.yaml', '--method', 'GET', '--url', 'https://app.example.com/docs/..;/admin'], 0,
    /refused before any rule: the path is ambiguous \(path_parameter\) → HTTP 403/],
];

for (const [name, args, code, out] of rows) {
  t.test(name, async (t) => {
    const r = await run(...args);
    t.equal(r.code, code, 'exit code');
    t.match(r.out, out);
  });
}
