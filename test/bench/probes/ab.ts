// Probe (see README.md): the previous build (bench-results/ab-old) against this one, same rounds.
import { interleave } from '../lib/load.js';
import { log, withOldAndNew } from './old-and-new.js';

const rounds = Number(process.argv[2] ?? 6);
const seconds = Number(process.argv[3] ?? 3);
const newFirst = process.argv[4] === 'new-first';

await withOldAndNew('authz', [], async ({ headers, old, cur }) => {
  const t = (name: string, s: typeof old) => ({ name, pids: () => [s.proc.pid], load: { url: `${s.url}/auth`, connections: 50, headers } });
  const targets = newFirst ? [t('new', cur), t('old', old)] : [t('old', old), t('new', cur)];
  const sums = await interleave(targets, { rounds, seconds, warmupSeconds: 2 }, log);
  const o = sums.find((s) => s.target === 'old')!;
  const n = sums.find((s) => s.target === 'new')!;
  const ratios = o.rounds.map((r, i) => r.cpuUsPerRequest / n.rounds[i]!.cpuUsPerRequest);
  log(`old/new CPU per request per round: ${ratios.map((x) => x.toFixed(2)).join(', ')}`);
  const sorted = [...ratios].sort((a, b) => a - b);
  log(`median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}; totals old ${o.cpuUsPerRequest.toFixed(1)} µs, new ${n.cpuUsPerRequest.toFixed(1)} µs; rps old ${o.rps.toFixed(0)}, new ${n.rps.toFixed(0)}`);
});
