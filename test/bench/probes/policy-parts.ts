// Probe (see README.md): where bench 4's extra time at 10,000 rules goes, step by step of the lookup
// (the same 4,096 requests as bench 4, 10 rules against 10,000), and what a flatter first level would
// save: the root's literal children in one open-addressing table of 64-byte slots with the key's
// characters inline (no separate key string to read), against V8's Map (bucket, entry, key string).
import type { TrieNode } from '../../../services/authz-service/policy/compile.js';
import { evaluate } from '../../../services/authz-service/policy/index.js';
import { pathSegments, splitHost } from '../../../services/authz-service/policy/patterns.js';
import { compiled, requestsFor } from '../cases/policy.js';
import { median } from '../lib/load.js';

/** Literal children by key, 16 int32 per slot: hash, length, child + 1, then up to 26 UTF-16 units. */
class FlatChildren {
  readonly slots: Int32Array;
  readonly mask: number;
  readonly children: TrieNode[] = [];
  readonly keys: string[] = [];
  readonly seed = (Math.random() * 2 ** 31) | 0;
  constructor(from: ReadonlyMap<string, TrieNode>) {
    let cap = 16;
    while (cap < from.size * 2) cap *= 2;
    this.mask = cap - 1;
    this.slots = new Int32Array(cap * 16);
    for (const [key, node] of from) {
      const h = this.hash(key);
      let i = h & this.mask;
      while (this.slots[i * 16 + 2] !== 0) i = (i + 1) & this.mask;
      const o = i * 16;
      this.children.push(node);
      this.keys.push(key);
      this.slots.set([h, key.length, this.children.length], o);
      for (let c = 0; c < Math.min(key.length, 26); c++) this.slots[o + 3 + (c >> 1)]! |= key.charCodeAt(c) << ((c & 1) * 16);
    }
  }
  hash(s: string): number {
    let h = this.seed;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h;
  }
  get(s: string): TrieNode | undefined {
    const h = this.hash(s), len = s.length, sl = this.slots;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * 16, child = sl[o + 2]!;
      if (child === 0) return undefined;
      if (sl[o] !== h || sl[o + 1] !== len) continue;
      if (len > 26) {
        if (this.keys[child - 1] === s) return this.children[child - 1];
        continue;
      }
      let c = 0;
      while (c < len && ((sl[o + 3 + (c >> 1)]! >>> ((c & 1) * 16)) & 0xffff) === s.charCodeAt(c)) c++;
      if (c === len) return this.children[child - 1];
    }
  }
}

const id = { subject: 'alice@example.com', groups: ['staff', 'team3', 'team11', 'contractors'], idp: null };
const sides = [10, 10_000].map((n) => {
  const policy = compiled(n);
  return { n, policy, requests: requestsFor(n), flat: new FlatChildren(policy.any!.literal!) };
});
type Side = (typeof sides)[number];
type Request = Side['requests'][number];
const first = (s: Side, q: Request) => {
  const seg = pathSegments(q.path)[0]!;
  return s.policy.any!.key === seg ? s.policy.any!.child : s.policy.any!.literal!.get(seg);
};
const firstFlat = (s: Side, q: Request) => {
  const seg = pathSegments(q.path)[0]!;
  return s.policy.any!.key === seg ? s.policy.any!.child : s.flat.get(seg);
};
for (const s of sides) for (const q of s.requests) if (first(s, q) !== firstFlat(s, q)) throw new Error(`the flat table disagrees on ${q.path}`);

// Each step includes the ones above it, so that the differences read as "what this step adds".
const steps: [string, (s: Side, q: Request) => number][] = [
  ['split the path', (_s, q) => pathSegments(q.path).length],
  ['+ the host map', (s, q) => (s.policy.exact.get(splitHost(q.host).name) ? 1 : 0) + pathSegments(q.path).length],
  ['first segment: Map.get', (s, q) => (first(s, q) ? 1 : 0)],
  ['+ its node', (s, q) => (first(s, q)?.rest ? 1 : 0)],
  ['+ the node\'s first entry', (s, q) => (first(s, q)?.rest?.isDeny ? 1 : 0)],
  ['first segment: flat table', (s, q) => (firstFlat(s, q) ? 1 : 0)],
  ['+ its node', (s, q) => (firstFlat(s, q)?.rest ? 1 : 0)],
  ['+ the node\'s first entry', (s, q) => (firstFlat(s, q)?.rest?.isDeny ? 1 : 0)],
  ['the whole decision (evaluate)', (s, q) => (evaluate(s.policy, q, id).outcome === 'allow' ? 1 : 0)],
];
// CPU time, not wall time: on a shared machine a descheduled sample would count someone else's work.
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
let sink = 0;
const run = (f: (s: Side, q: Request) => number, s: Side, ms: number) => {
  let k = 0;
  const t0 = cpuMs();
  while (cpuMs() - t0 < ms) {
    for (const q of s.requests) sink += f(s, q);
    k += s.requests.length;
  }
  return ((cpuMs() - t0) * 1e6) / k;
};
const rounds = Number(process.env.ROUNDS ?? 9);
console.log(`${'ns per request'.padEnd(32)} ${'10 rules'.padStart(9)} ${'10,000'.padStart(9)}   extra`);
for (const [name, f] of steps) {
  for (const s of sides) run(f, s, 200); // JIT warm-up
  const samples = sides.map(() => [] as number[]);
  for (let i = 0; i < rounds; i++) sides.forEach((s, k) => samples[k]!.push(run(f, s, 100)));
  const [few, many] = samples.map(median) as [number, number];
  console.log(`${name.padEnd(32)} ${few.toFixed(0).padStart(9)} ${many.toFixed(0).padStart(9)}   +${(many - few).toFixed(0)}`);
}
if (sink === -1) console.log(sink);
