/**
 * Metrics for the per-request path without prom-client's per-update label hashing: a series is bound
 * once (a label set → a slot in a typed array), an update is an index and an increment, and the
 * Prometheus text is built at scrape time. prom-client still owns the registry, the exposition format
 * and every other metric; these register themselves in it like any prom-client metric (`get()`,
 * `reset()`, `name`), so `/metrics` output is unchanged in shape.
 */
import { Counter, type Registry } from 'prom-client';

type Labels = Record<string, string>;

/**
 * A counter over a closed list of label sets, every one pre-registered at 0 (dashboards see zero, not
 * "no data"). `add(slot)` is a typed-array increment; the counts reach the prom-client Counter in its
 * `collect()` at scrape time (only the difference since the last scrape is added).
 */
export class SlotCounter {
  private readonly counts: Float64Array;
  private readonly published: Float64Array;
  readonly counter: Counter<string>;

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[], private readonly series: readonly Labels[]) {
    this.counts = new Float64Array(series.length);
    this.published = new Float64Array(series.length);
    const counts = this.counts;
    const published = this.published;
    this.counter = new Counter({
      name,
      help,
      labelNames: [...labelNames],
      registers: [registry],
      collect() {
        for (let i = 0; i < series.length; i++) {
          const delta = counts[i]! - published[i]!;
          if (delta > 0) this.inc(series[i]!, delta);
          published[i] = counts[i]!;
        }
      },
    });
    for (const labels of series) this.counter.inc(labels, 0);
  }

  add(slot: number, n = 1): void {
    this.counts[slot]! += n;
  }
}

/**
 * A {@link SlotCounter} over one label's closed list of values (the typed-array twin of metrics.ts
 * `closedCounter`): `add(value, n)` counts by the value itself, its slot looked up in a record built once.
 */
export function closedSlotCounter<V extends string>(registry: Registry, name: string, help: string, label: string, values: readonly V[]): { counter: Counter<string>; add: (value: V, n?: number) => void } {
  const slots = new SlotCounter(registry, name, help, [label], values.map((value) => ({ [label]: value })));
  const slotOf = Object.fromEntries(values.map((value, i) => [value, i])) as Record<V, number>;
  return { counter: slots.counter, add: (value, n = 1) => slots.add(slotOf[value], n) };
}

/**
 * A histogram whose series are bound once (`bind(labels)` → an observe function): an observation is a
 * walk over the precomputed bucket bounds and two typed-array increments, no label lookup. Registered
 * in the prom-client registry as a histogram; output identical to prom-client's Histogram.
 */
export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: Float64Array;
  private readonly labels: Labels[] = [];
  /** per series: one count per bucket (+Inf last), not cumulative */
  private buckets: Float64Array[] = [];
  private sums: number[] = [];

  constructor(registry: Registry, readonly name: string, readonly help: string, buckets: readonly number[]) {
    this.bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
    registry.registerMetric(this as never);
  }

  /** A series for these labels (bind once, outside the per-request path; label values must be bounded). */
  bind(labels: Labels): (value: number) => void {
    const index = this.labels.length;
    this.labels.push(labels);
    this.buckets.push(new Float64Array(this.bounds.length + 1));
    this.sums.push(0);
    const bounds = this.bounds;
    const n = bounds.length;
    return (value: number) => {
      let i = 0;
      while (i < n && value > bounds[i]!) i++;
      this.buckets[index]![i]! += 1;
      this.sums[index]! += value;
    };
  }

  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: { metricName: string; labels: Record<string, string | number>; value: number }[] } {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (let s = 0; s < this.labels.length; s++) {
      const counts = this.buckets[s]!;
      let total = 0;
      for (let i = 0; i < counts.length; i++) total += counts[i]!;
      if (total === 0) continue; // as prom-client: a series appears with its first observation
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: this.bounds[i]!, ...this.labels[s] }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...this.labels[s] }, value: total });
      values.push({ metricName: `${this.name}_sum`, labels: { ...this.labels[s] }, value: this.sums[s]! });
      values.push({ metricName: `${this.name}_count`, labels: { ...this.labels[s] }, value: total });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const b of this.buckets) b.fill(0);
    this.sums = this.sums.map(() => 0);
  }
}
