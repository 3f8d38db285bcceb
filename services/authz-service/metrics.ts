import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS, closedCounter } from '../shared/metrics.js';
import { FastHistogram, SlotCounter, closedSlotCounter } from '../shared/fast-metrics.js';
import { ASSERTION_CACHE_EVENTS } from './upstream/assertions.js';
import { DECISION_SERIES, OUTCOMES, decisionSlot, type MetricOutcome, type ReasonOf } from './reasons.js';

export { OUTCOMES, type MetricOutcome } from './reasons.js';
export const CACHE_EVENTS = ['hit', 'miss', 'eviction', 'coalesced', 'overload', 'untrusted'] as const;
export type CacheEvent = (typeof CACHE_EVENTS)[number];

/**
 * The authz-service's own metrics. Labels are closed lists: outcome, and a reason from the policy,
 * token, liveness, path or front-end refusal codes. Never a subject, a token id or a raw path.
 */
export function authzMetrics(registry: Registry) {
  // The per-request pair, counted in typed arrays and published at scrape time (fast-metrics.ts):
  // every (outcome, reason) of reasons.ts pre-registered at 0.
  const decisions = new SlotCounter(registry, 'authz_decisions_total', 'Decisions by outcome and reason', ['outcome', 'reason'], DECISION_SERIES);
  const decisionSeconds = new FastHistogram(registry, 'authz_decision_duration_seconds', 'Time to decide one /auth request, by outcome', LATENCY_BUCKETS);
  // `hit` is counted on every cached /auth: a typed-array slot, published at scrape time.
  const cacheEvents = closedSlotCounter(
    registry,
    'authz_token_cache_events_total',
    'Token liveness cache events: hit, miss, eviction, coalesced (a lookup joined one in flight), overload (refused, queue full), untrusted (looked up because the listener does not hear notifications)',
    'event',
    CACHE_EVENTS,
  );
  const cache = cacheEvents.counter;
  const revocations = new Counter({ name: 'authz_revocations_received_total', help: 'Revocation notifications received from Postgres', registers: [registry] });
  const listener = new Gauge({ name: 'authz_revocation_listener_up', help: '1 while the LISTEN connection is up', registers: [registry] });
  const listenerHealthy = new Gauge({
    name: 'authz_revocation_listener_healthy',
    help: '1 while the listener hears its own probe notifications (cache trusted); 0 = degraded, every request looked up in Postgres',
    registers: [registry],
  });
  const probesMissed = new Counter({ name: 'authz_revocation_probes_missed_total', help: 'Probe notifications the listener did not hear within LISTENER_PROBE_TIMEOUT_MS', registers: [registry] });
  const lookups = new Histogram({
    name: 'authz_liveness_query_duration_seconds',
    help: 'Liveness lookups against Postgres (batched), by result',
    labelNames: ['result'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const reloads = closedCounter(registry, 'authz_policy_reloads_total', 'Policy loads by result', 'result', ['ok', 'failed']);
  const rules = new Gauge({ name: 'authz_policy_rules', help: 'Rules in the policy in force', registers: [registry] });
  const policyInfo = new Gauge({ name: 'authz_policy_info', help: 'The policy in force (hash label: first 16 hex of its SHA-256)', labelNames: ['hash'] as const, registers: [registry] });
  const upstreamSigned = new Counter({ name: 'authz_upstream_jwt_signed_total', help: 'X-Auth-Request-Jwt assertions signed (a cache miss or renewal; the steady state signs none)', registers: [registry] });
  // `hit` is counted on every allow that carries an assertion: a typed-array slot, as the cache events above.
  const upstreamEvents = closedSlotCounter(
    registry,
    'authz_upstream_jwt_cache_events_total',
    'Upstream assertion cache: hit (handed out again), miss (first for this token and audience), renewal (a third of its lifetime left), eviction (cache full), revoked (dropped by a revocation)',
    'event',
    ASSERTION_CACHE_EVENTS,
  );
  const upstreamCache = upstreamEvents.counter;
  const upstreamEvent = upstreamEvents.add;
  const upstreamSign = () => upstreamSigned.inc();
  const latencyByOutcome = Object.fromEntries(OUTCOMES.map((o) => [o, decisionSeconds.bind({ outcome: o })])) as Record<MetricOutcome, (seconds: number) => void>;
  /** One decision: an outcome and a reason from its closed list (reasons.ts). */
  const decided = <O extends MetricOutcome>(outcome: O, reason: ReasonOf<O>, seconds: number) => {
    decisions.add(decisionSlot(outcome, reason));
    latencyByOutcome[outcome](seconds);
  };
  const cacheEvent = cacheEvents.add;
  return { decided, cacheEvent, upstreamEvent, upstreamSign, upstreamSigned, upstreamCache, decisions, decisionSeconds, cache, revocations, listener, listenerHealthy, probesMissed, lookups, reloads, rules, policyInfo };
}

export type AuthzMetrics = ReturnType<typeof authzMetrics>;
