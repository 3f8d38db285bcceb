/**
 * Bound series per label combination (prom-client children, or fast-metrics.ts observers), so the
 * per-request path builds no labels object and no template string. Label values are closed lists, so
 * the cache is bounded too.
 */
export class LabelCache<Child> {
  private readonly children = new Map<string, Map<string, Child>>();
  constructor(private readonly bind: (a: string, b: string) => Child) {}

  get(a: string, b: string): Child {
    let inner = this.children.get(a);
    if (inner === undefined) this.children.set(a, (inner = new Map()));
    let child = inner.get(b);
    if (child === undefined) inner.set(b, (child = this.bind(a, b)));
    return child;
  }
}
