/**
 * A pure function's answers for the arguments seen lately. Request headers such as Host and the
 * original method repeat on almost every request: each distinct value is checked once. Bounded: at most
 * `max` entries, of arguments up to `maxLength` characters (a longer one is answered, not kept); when
 * full it starts over, so many distinct arguments (an attacker's) cost what no memo would.
 */
export class Recent<V> {
  private readonly known = new Map<string, V>();

  constructor(
    private readonly fn: (arg: string) => V,
    private readonly max: number,
    private readonly maxLength: number,
  ) {}

  get(arg: string): V {
    const hit = this.known.get(arg);
    if (hit !== undefined) return hit;
    const value = this.fn(arg);
    if (arg.length <= this.maxLength) {
      if (this.known.size >= this.max) this.known.clear();
      this.known.set(arg, value);
    }
    return value;
  }
}
