import t from 'tap';
import { Registry } from 'prom-client';
import { authzMetrics } from '../../services/authz-service/metrics.js';
import { DECISION_SERIES, OUTCOME_REASONS, decisionSlot } from '../../services/authz-service/reasons.js';
import { TOKEN_REFUSALS } from '../../services/shared/jwt-verify.js';

t.test('every (outcome, reason) of the catalogue is a pre-registered series of authz_decisions_total', async (t) => {
  const registry = new Registry();
  const metrics = authzMetrics(registry);
  const text = await registry.metrics();
  for (const { outcome, reason } of DECISION_SERIES) t.match(text, `authz_decisions_total{outcome="${outcome}",reason="${reason}"} 0\n`);
  t.ok(DECISION_SERIES.length >= 40, `${DECISION_SERIES.length} series`);
  metrics.decided('unauthenticated', 'revoked', 0.0001);
  metrics.decided('allow', 'allow_rule', 0.002);
  const after = await registry.metrics();
  t.match(after, 'authz_decisions_total{outcome="unauthenticated",reason="revoked"} 1\n');
  t.match(after, 'authz_decisions_total{outcome="allow",reason="allow_rule"} 1\n');
  t.match(after, 'authz_decision_duration_seconds_bucket{le="0.0025",outcome="allow"} 1\n');
  t.match(after, 'authz_decision_duration_seconds_bucket{le="0.001",outcome="allow"} 0\n');
});

t.test('every token refusal can be counted as an unauthenticated decision; a reason outside its outcome cannot', async (t) => {
  for (const r of TOKEN_REFUSALS) t.type(decisionSlot('unauthenticated', r), 'number', r);
  t.throws(() => decisionSlot('allow', 'revoked' as never), /not in the catalogue/);
  t.same(OUTCOME_REASONS.deny, ['explicit_deny', 'no_matching_rule']);
  const slots = DECISION_SERIES.map(({ outcome, reason }) => decisionSlot(outcome as never, reason as never));
  t.same(slots, DECISION_SERIES.map((_, i) => i), 'slots are distinct and in series order');
});
