// Probe (see README.md): token-services that differ only in their environment (or build), each sent
// its own distinct signed SAML Responses in interleaved rounds, as bench 6 sends them.
// node --import tsx test/bench/probes/acs-variants.ts <rounds> <requests per round> '' 'NODE_OPTIONS=--max-semi-space-size=32' 'ROOT=bench-results/ab-old' …
// (each argument after the first two is one variant: comma-separated variables; ROOT= starts that build instead of dist/)
import { eachBody, responseSigner, samlEnv } from '../cases/issuance.js';
import { AUDIENCE, ISSUER } from '../../helpers/tokens.js';
import { BenchContext } from '../lib/context.js';
import { interleave, median } from '../lib/load.js';
import { LOAD_CORE, pin } from '../lib/proc.js';
import { log, root, variant } from './old-and-new.js';

const [rounds = '6', perRound = '200', ...variants] = process.argv.slice(2);
const warmup = 100;
pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const { idp, sign } = await responseSigner();
  const bodies = async (n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await sign());
    return out;
  };
  const targets = [];
  for (const [i, v] of variants.entries()) {
    const { env, build } = variant(v);
    const s = await ctx.startTokenService(`acs-variant-${i}`, {
      ...samlEnv(idp), JWT_PRIVATE_KEY: ctx.jwtKey.privatePem, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, RATE_LIMIT_MAX: '1000000',
      SWEEP_INTERVAL_SECONDS: '0', SAML_ALLOW_IDP_INITIATED: 'true', ...env,
    }, build === undefined ? {} : { build });
    const sets = [await bodies(warmup)];
    for (let r = 0; r < Number(rounds); r++) sets.push(await bodies(Number(perRound)));
    targets.push({ name: v || '(default)', pids: () => [s.proc.pid], load: { url: `${s.url}/saml/acs`, connections: 10 }, sets });
  }
  await interleave(targets.map((t) => ({ ...t, perRound: () => ({ requests: eachBody(t.sets[0]!) }) })), { rounds: 1, amount: warmup }, () => {});
  const sums = await interleave(
    targets.map((t) => ({ ...t, perRound: (r: number) => ({ requests: eachBody(t.sets[r + 1]!) }) })),
    { rounds: Number(rounds), amount: Number(perRound) },
    log,
  );
  const first = sums[0]!;
  for (const s of sums) {
    const ratio = median(s.rounds.map((r, i) => r.cpuUsPerRequest / first.rounds[i]!.cpuUsPerRequest));
    log(`${s.target}: ${s.cpuUsPerRequest.toFixed(0)} µs/req, median ratio to the first ${ratio.toFixed(3)}`);
  }
} finally {
  await ctx.close();
}
