/**
 * prom-client hashes a labels object on every `inc`/`observe`; on a hot path that is an allocation and
 * a string build per request. This keeps the bound child per label combination (label values are closed
 * lists, so the cache is bounded too).
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
