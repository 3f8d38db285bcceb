// Probe (see README.md): Postgres's side of one sign-in statement (token-service/store/sign-in.ts).
// Postgres CPU per sign-in for the statement as the service sends it (unnamed: parsed and planned every
// time) against the same statement prepared once (a named statement), interleaved rounds; and what
// EXPLAIN ANALYZE says of its planning and execution.
// node --import tsx test/bench/probes/sign-in-sql.ts [sign-ins per round] [rounds]
import { randomBytes, randomUUID } from 'node:crypto';
import { BenchContext } from '../lib/context.js';
import { treeCpuSeconds } from '../lib/proc.js';
import { log, root } from './old-and-new.js';
import { recordSignIn, type SignIn } from '../../../services/token-service/store/sign-in.js';

const perRound = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 4);

function signIn(): SignIn {
  const now = new Date();
  const later = new Date(now.getTime() + 3600_000);
  const sid = randomUUID();
  const who = { subject: `user-${randomUUID()}@example.com`, email: 'a@example.com', groups: ['staff', 'admins'], idpIssuer: 'https://idp.example.com', sessionIndex: '_s1', clientAddress: '127.0.0.1' };
  return {
    request: null,
    assertion: { assertionId: `_${randomBytes(16).toString('hex')}`, idpIssuer: who.idpIssuer, jti: randomUUID(), expiresAt: later },
    session: { ...who, sid, secretHash: randomBytes(32), nameIdFormat: null, createdAt: now, idleExpiresAt: later, expiresAt: later },
    token: { ...who, jti: randomUUID(), issuedAt: now, expiresAt: later, sid },
  };
}

const ctx = await BenchContext.open(root, true, log);
try {
  if (ctx.postgresPid === null) throw new Error('needs the embedded Postgres (unset DATABASE_URL)');
  // The statement and its parameters as kysely compiles them, not sent.
  const compiler = ctx.db.kysely.withPlugin({ transformQuery: (a) => a.node, transformResult: async (a) => a.result });
  const executor = compiler.getExecutor();
  let last: { sql: string; parameters: readonly unknown[] } | undefined;
  executor.executeQuery = async (q) => ((last = { sql: q.sql, parameters: q.parameters }), { rows: [{ consumed: true, recorded: true }] }) as never;
  const compile = async (s: SignIn) => (await recordSignIn(compiler, s), last!);
  const first = await compile(signIn());
  log(`statement: ${first.sql.length} characters, ${first.parameters.length} parameters`);
  const explain = await ctx.db.pool.query(`EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) ${first.sql}`, first.parameters as unknown[]);
  const plan = (explain.rows[0] as { 'QUERY PLAN': [{ 'Planning Time': number; 'Execution Time': number }] })['QUERY PLAN'][0];
  log(`EXPLAIN ANALYZE: planning ${plan['Planning Time'].toFixed(3)} ms, execution ${plan['Execution Time'].toFixed(3)} ms`);
  const ways: Record<string, () => Promise<unknown>> = {
    unnamed: () => recordSignIn(ctx.db.kysely, signIn()),
    prepared: async () => {
      const q = await compile(signIn());
      return ctx.db.pool.query({ name: 'sign_in_probe', text: q.sql, values: q.parameters as unknown[] });
    },
  };
  const perSignIn: Record<string, number[]> = { unnamed: [], prepared: [] };
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 === 0 ? ['unnamed', 'prepared'] : ['prepared', 'unnamed']) {
      const before = treeCpuSeconds([ctx.postgresPid]);
      const started = performance.now();
      for (let i = 0; i < perRound; i++) await ways[name]!();
      const wallUs = ((performance.now() - started) * 1000) / perRound;
      const cpuUs = ((treeCpuSeconds([ctx.postgresPid]) - before) * 1e6) / perRound;
      perSignIn[name]!.push(cpuUs);
      log(`round ${round} ${name}: Postgres ${cpuUs.toFixed(0)} µs CPU per sign-in, ${wallUs.toFixed(0)} µs wall`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  log(`median Postgres CPU per sign-in: unnamed ${median(perSignIn.unnamed!).toFixed(0)} µs, prepared ${median(perSignIn.prepared!).toFixed(0)} µs`);
} finally {
  await ctx.close();
}
