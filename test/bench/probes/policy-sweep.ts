// Probe (see README.md): bench 4's cost against the working set, with the rule count held
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
let sink = 0;
const run = (c: (typeof cases)[number], ms: number) => { let k = 0; const t0 = performance.now(); while (performance.now() - t0 < ms) { for (const q of c.r) if (evaluate(c.p, q, id).outcome === 'allow') sink++; k += c.r.length; } return ((performance.now() - t0) * 1e6) / k; };
for (const c of cases) run(c, 300);
const rounds = Number(process.env.ROUNDS ?? 9);
for (let i = 0; i < rounds; i++) for (const c of cases) c.s.push(run(c, 150));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const base = med(cases[0]!.s);
for (const c of cases) console.log(`${c.name.padEnd(45)} ${med(c.s).toFixed(0).padStart(6)} ns  ×${(med(c.s) / base).toFixed(2)}`);
