import t from 'tap';
import { candidates, compilePolicy, evaluate, validatePolicy } from '../../../services/authz-service/policy/index.js';
import type { CompiledPolicy } from '../../../services/authz-service/policy/index.js';

/** n rules spread over hosts, paths and methods, plus a few broad ones, like a large real policy. */
function policyOf(n: number): CompiledPolicy {
  const rules: unknown[] = [
    { id: 'docs', effect: 'allow', public: true, paths: ['/docs/**'] },
    { id: 'no-admin-from-outside', effect: 'deny', paths: ['/admin/**'], notSourceIps: ['10.0.0.0/8'] },
  ];
  for (let i = 0; i < n; i++) {
    rules.push({
      id: `svc-${i}`,
      effect: i % 10 === 9 ? 'deny' : 'allow',
      hosts: [`h${i % 50}.example.com`],
      paths: [`/svc${i}/**`, `/api/v1/svc${i}/*/items`],
      methods: i % 2 === 0 ? ['GET', 'HEAD'] : ['POST'],
      groups: [`team-${i}`],
    });
  }
  const result = validatePolicy({ rules });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return compilePolicy(result.policy);
}

const small = policyOf(10);
const large = policyOf(10_000);

type Row = [name: string, i: number, path: (i: number) => string, expected: string[]];
const rows: Row[] = [
  ['a service prefix', 4, (i) => `/svc${i}/x`, ['svc-4']],
  ['a service item', 6, (i) => `/api/v1/svc${i}/42/items`, ['svc-6']],
  ['the public docs', 8, () => '/docs/a', ['docs']],
  ['the admin deny', 2, () => '/admin/x', ['no-admin-from-outside']],
  ['nothing', 0, () => '/nowhere', []],
];

for (const [name, i, path, expected] of rows) {
  t.test(`${name}: the same few candidates with 10 and 10,000 rules`, async (t) => {
    for (const [label, compiled] of [['10', small], ['10,000', large]] as const) {
      const request = { method: 'GET', host: `h${i % 50}.example.com`, path: path(i), clientIp: '10.0.0.1' };
      t.same(candidates(compiled, request), expected, `${label} rules`);
    }
  });
}

t.test('a rule deep in a large policy decides correctly', async (t) => {
  const request = { method: 'POST', host: 'h49.example.com', path: '/svc9999/x', clientIp: '10.0.0.1' };
  t.same(evaluate(large, request, { subject: 'u', groups: ['team-9999'], idp: null }), { outcome: 'deny', reason: 'explicit_deny', ruleId: 'svc-9999' });
  const get = { method: 'POST', host: 'h47.example.com', path: '/svc9997/x', clientIp: '10.0.0.1' };
  t.same(evaluate(large, get, { subject: 'u', groups: ['team-9997'], idp: null }), {
    outcome: 'allow',
    reason: 'allow_rule',
    ruleId: 'svc-9997',
    public: false,
  });
  t.same(evaluate(large, { ...get, method: 'GET' }, { subject: 'u', groups: ['team-9997'], idp: null }), { outcome: 'deny', reason: 'no_matching_rule' });
});

t.test('decision time (informational, not asserted)', async (t) => {
  for (const [label, compiled] of [['10', small], ['10,000', large]] as const) {
    const request = { method: 'GET', host: 'h4.example.com', path: '/svc4/a/b', clientIp: '10.0.0.1' };
    const identity = { subject: 'u', groups: ['team-4'], idp: null };
    const n = 100_000;
    const start = process.hrtime.bigint();
    for (let k = 0; k < n; k++) evaluate(compiled, request, identity);
    const ns = Number(process.hrtime.bigint() - start) / n;
    t.comment(`${label} rules: ${ns.toFixed(0)} ns per decision`);
  }
  t.pass();
});
