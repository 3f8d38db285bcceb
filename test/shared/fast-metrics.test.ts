import t from 'tap';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram, SlotCounter, closedSlotCounter } from '../../services/shared/fast-metrics.js';
import { LATENCY_BUCKETS } from '../../services/shared/metrics.js';

const OBSERVATIONS = [0, 0.0004, 0.0005, 0.0007, 0.003, 0.02, 0.02, 0.9, 4, 7.5, 120];

t.test('FastHistogram writes the same exposition text as prom-client Histogram for the same observations', async (t) => {
  const mine = new Registry();
  const theirs = new Registry();
  const fast = new FastHistogram(mine, 'x_seconds', 'help text', LATENCY_BUCKETS);
  const slow = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['route', 'status_class'] as const, buckets: LATENCY_BUCKETS, registers: [theirs] });
  const ok = fast.bind({ route: '/auth', status_class: '2xx' });
  const denied = fast.bind({ route: '/auth', status_class: '4xx' });
  fast.bind({ route: '/never', status_class: '2xx' }); // never observed: absent, as in prom-client
  for (const v of OBSERVATIONS) {
    ok(v);
    slow.observe({ route: '/auth', status_class: '2xx' }, v);
  }
  denied(0.002);
  slow.observe({ route: '/auth', status_class: '4xx' }, 0.002);
  t.equal(await mine.metrics(), await theirs.metrics());
  t.match(await mine.metrics(), /x_seconds_count\{route="\/auth",status_class="2xx"\} 11\n/);
  t.notMatch(await mine.metrics(), /\/never/);
  fast.reset();
  theirs.resetMetrics();
  ok(0.01);
  slow.observe({ route: '/auth', status_class: '2xx' }, 0.01);
  t.equal(await mine.metrics(), await theirs.metrics(), 'the same after a reset');
});

t.test('SlotCounter pre-registers every series at 0 and publishes the counts at scrape time', async (t) => {
  const registry = new Registry();
  const c = new SlotCounter(registry, 'decisions_total', 'help', ['outcome', 'reason'], [
    { outcome: 'allow', reason: 'allow_rule' },
    { outcome: 'deny', reason: 'explicit_deny' },
  ]);
  t.match(await registry.metrics(), /decisions_total\{outcome="allow",reason="allow_rule"\} 0\ndecisions_total\{outcome="deny",reason="explicit_deny"\} 0/);
  c.add(0);
  c.add(0);
  c.add(1, 3);
  t.match(await registry.metrics(), /decisions_total\{outcome="allow",reason="allow_rule"\} 2\ndecisions_total\{outcome="deny",reason="explicit_deny"\} 3/);
  c.add(0);
  t.match(await registry.metrics(), /decisions_total\{outcome="allow",reason="allow_rule"\} 3\n/, 'a second scrape adds only what is new');
});

t.test('closedSlotCounter counts by label value, every value pre-registered at 0', async (t) => {
  const registry = new Registry();
  const c = closedSlotCounter(registry, 'events_total', 'help', 'event', ['hit', 'miss', 'eviction'] as const);
  t.match(await registry.metrics(), /events_total\{event="hit"\} 0\nevents_total\{event="miss"\} 0\nevents_total\{event="eviction"\} 0/);
  c.add('miss');
  c.add('eviction', 4);
  c.add('miss');
  t.match(await registry.metrics(), /events_total\{event="hit"\} 0\nevents_total\{event="miss"\} 2\nevents_total\{event="eviction"\} 4/);
});
