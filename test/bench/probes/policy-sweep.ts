// Probe (see README.md): bench 4's cost against the working set, with the rule count held, and what a
// cache miss costs on this machine (a chain of dependent random loads over 64 KB … 16 MB), so that the
// 10,000-rule decision's extra time reads as "this many lines the 10-rule decision has in L1".
import { evaluate } from '../../../services/authz-service/policy/index.js';
import { compiled, requestsFor } from '../cases/policy.js';
const id = { subject: 'alice@example.com', groups: ['staff', 'team3', 'team11', 'contractors'], idp: null };
const p10 = compiled(10), p1k = compiled(1000), p10k = compiled(10000);
const cases = [
  { name: '10 rules, 10 services', p: p10, r: requestsFor(10) },
  { name: '10,000 rules, requests over 10 services', p: p10k, r: requestsFor(10) },
  { name: '10,000 rules, requests over 100 services', p: p10k, r: requestsFor(100) },
  { name: '1,000 rules, requests over 1,000 services', p: p1k, r: requestsFor(1000) },
  { name: '10,000 rules, requests over 1,000 services', p: p10k, r: requestsFor(1000) },
  { name: '10,000 rules, requests over 10,000 services', p: p10k, r: requestsFor(10000) },
].map((c) => ({ ...c, s: [] as number[] }));
// CPU time, not wall time: on a shared machine a descheduled sample would count someone else's work.
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
let sink = 0;
const run = (c: (typeof cases)[number], ms: number) => { let k = 0; const t0 = cpuMs(); while (cpuMs() - t0 < ms) { for (const q of c.r) if (evaluate(c.p, q, id).outcome === 'allow') sink++; k += c.r.length; } return ((cpuMs() - t0) * 1e6) / k; };
for (const c of cases) run(c, 300);
const rounds = Number(process.env.ROUNDS ?? 9);
for (let i = 0; i < rounds; i++) for (const c of cases) c.s.push(run(c, 150));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const base = med(cases[0]!.s);
for (const c of cases) console.log(`${c.name.padEnd(45)} ${med(c.s).toFixed(0).padStart(6)} ns  ×${(med(c.s) / base).toFixed(2)}`);

/** ns per load in a random cyclic chain through `kb` of memory, one load per 64-byte line. */
function chase(kb: number): number {
  const lines = (kb * 1024) / 64, a = new Int32Array(lines * 16), order = Array.from({ length: lines }, (_, i) => i);
  for (let i = lines - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
  for (let i = 0; i < lines; i++) a[order[i]! * 16] = order[(i + 1) % lines]! * 16;
  const s: number[] = [];
  for (let r = 0; r < 7; r++) { let p = 0, k = 0; const t0 = cpuMs(); while (cpuMs() - t0 < 60) { for (let n = 0; n < 100_000; n++) p = a[p]!; k += 100_000; } s.push(((cpuMs() - t0) * 1e6) / k); sink += p; }
  return med(s);
}
const miss = chase(16384);
for (const kb of [64, 1024, 4096, 16384]) console.log(`dependent random load over ${String(kb).padStart(5)} KB          ${(kb === 16384 ? miss : chase(kb)).toFixed(0).padStart(6)} ns`);
const extra = med(cases.at(-1)!.s) - base;
console.log(`10,000 rules over 10,000 services: ${extra.toFixed(0)} ns more than 10 rules ≈ ${(extra / miss).toFixed(1)} loads from memory per decision`);
if (sink === -1) console.log(sink);
