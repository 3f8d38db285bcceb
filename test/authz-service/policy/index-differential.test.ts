// The indexed evaluator against the slow explainer on generated policies and requests: one trie per
// host bucket holds every method and both effects (deny literals folded, allow literals as written),
// and rules with equal conditions share them, so mixed case, methods, ports and shared conditions are
// what the generators stress.
import t from 'tap';
import fc from 'fast-check';
import { compilePolicy, evaluate, explainDecision, validatePolicy } from '../../../services/authz-service/policy/index.js';

const SEED = Number(process.env.FC_SEED ?? 20261205);
const RUNS = Number(process.env.FC_RUNS ?? 400);

const SEGMENTS = ['a', 'A', 'api', 'Api', 'API', 'straße', 'STRASSE', 'admİn', 'admin', 'x', ''];
const segment = fc.constantFrom(...SEGMENTS);
const pattern = fc
  .tuple(fc.array(fc.oneof(segment.filter((s) => s !== ''), fc.constant('*')), { maxLength: 3 }), fc.constantFrom('', '*', '**', 'a', 'Api'))
  .map(([head, last]) => `/${[...head, last].join('/')}`);
/** Absent three times in four, so that rules often apply. */
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
const list = (values: string[]) => maybe(fc.uniqueArray(fc.constantFrom(...values), { minLength: 1, maxLength: 2 }));

const rule = fc.record({
  effect: fc.constantFrom('allow', 'deny'),
  public: fc.boolean(),
  paths: fc.uniqueArray(pattern, { minLength: 1, maxLength: 2 }),
  methods: list(['GET', 'HEAD', 'POST', 'DELETE', 'get']),
  hosts: list(['h.example.com', 'h.example.com:8443', '*.example.com', 'other.org']),
  groups: list(['staff', 'admins']),
  notGroups: list(['contractors']),
  subjects: list(['alice', 'bob']),
  idps: list(['urn:idp:a']),
  sourceIps: list(['10.0.0.0/8']),
  notSourceIps: list(['203.0.113.0/24']),
});

const policy = fc.array(rule, { minLength: 1, maxLength: 10 }).map((rules) => ({
  rules: rules.map((r, i) => {
    const out: Record<string, unknown> = { id: `r${i}` };
    for (const [k, v] of Object.entries(r)) if (v !== undefined && !(k === 'public' && (r.effect === 'deny' || v === false))) out[k] = v;
    return out;
  }),
}));

const request = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE'),
  host: fc.constantFrom('h.example.com', 'h.example.com:8443', 'x.example.com', 'other.org', 'other.org:80'),
  path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`.replace(/\/{2,}/g, '/')),
  clientIp: fc.constantFrom('10.1.2.3', '203.0.113.7', '198.51.100.1', 'unknown'),
});

const identity = fc.option(
  fc.record({
    subject: fc.constantFrom('alice', 'bob', 'carol'),
    groups: fc.uniqueArray(fc.constantFrom('staff', 'admins', 'contractors'), { maxLength: 2 }),
    idp: fc.constantFrom('urn:idp:a', 'urn:idp:b', null),
  }),
  { nil: null },
);

t.test(`the index decides as the explainer does on generated policies (seed ${SEED}, ${RUNS} runs)`, async (t) => {
  const reasons = new Map<string, number>();
  let mismatches = 0;
  fc.assert(
    fc.property(policy, fc.array(fc.tuple(request, identity), { minLength: 1, maxLength: 20 }), (raw, asks) => {
      const parsed = validatePolicy(raw);
      fc.pre(parsed.ok);
      if (!parsed.ok) return;
      const compiled = compilePolicy(parsed.policy);
      for (const [req, who] of asks) {
        const fast = evaluate(compiled, req, who);
        const slow = explainDecision(compiled, req, who).decision;
        reasons.set(fast.reason, (reasons.get(fast.reason) ?? 0) + 1);
        if (JSON.stringify(fast) !== JSON.stringify(slow) && ++mismatches <= 5) t.same(fast, slow, JSON.stringify({ raw, req, who }));
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
  t.equal(mismatches, 0);
  t.comment(JSON.stringify(Object.fromEntries(reasons)));
  // Every kind of decision was reached, so the comparison could have failed on each.
  for (const reason of ['allow_rule', 'public_rule', 'explicit_deny', 'no_matching_rule', 'authentication_required']) {
    t.ok((reasons.get(reason) ?? 0) > 20, `${reason} decided often enough`);
  }
});
