/**
 * Bench 6: token issuance. POST /saml/acs on the token-service (complete validation, replay record,
 * token row, JWT signing: all of it) against node-saml's signature validation alone behind the same
 * Fastify settings and form parser, and, to split the difference, our validation alone (see
 * test/bench/servers/saml-baseline.ts for what each baseline does and why). Every request carries
 * its own SAML Response, signed beforehand by the dev IdP (RSA-2048, SHA-256, signed assertion), as
 * the replay store refuses a second use. Interleaved rounds of a fixed number of requests.
 */
import type { Request } from 'autocannon';
import { generateIdpKeys, type KeyPair } from '../../../services/dev-idp/keys.js';
import { signSamlResponse } from '../../../services/dev-idp/sign.js';
import { ACS_URL, IDP_ISSUER, SP_ENTITY } from '../../helpers/token-service.js';
import { AUDIENCE, ISSUER, newSigningKey } from '../../helpers/tokens.js';
import type { BenchContext } from '../lib/context.js';
import { fmt, interleave, pairedCapacity, pairedRatio } from '../lib/load.js';
import { treeCpuSeconds } from '../lib/proc.js';
import type { CaseResult } from '../lib/report.js';

const CONNECTIONS = 10;

export function eachBody(bodies: readonly string[]): Request[] {
  let i = 0;
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', host: 'auth.test.example' };
  return [{ method: 'POST', path: '/saml/acs', headers, setupRequest: (req) => ({ ...req, body: bodies[i++]! }) }];
}

/** The dev IdP's keys and a function that signs one more distinct SAML Response, as a form body for /saml/acs. */
export async function responseSigner(): Promise<{ idp: KeyPair; sign: () => Promise<string> }> {
  const idp = await generateIdpKeys();
  const notOnOrAfter = new Date(Date.now() + 30 * 60_000);
  const sign = async () => {
    const { samlResponse } = await signSamlResponse({
      idp, issuer: IDP_ISSUER, acsUrl: ACS_URL, audience: SP_ENTITY, nameId: 'alice@example.com', email: 'alice@example.com',
      groups: ['staff', 'admins'], notOnOrAfter, subjectNotOnOrAfter: notOnOrAfter,
    });
    return `SAMLResponse=${encodeURIComponent(samlResponse)}`;
  };
  return { idp, sign };
}

/** The token-service's SAML settings for bench 6's IdP (the baselines take the same). */
export function samlEnv(idp: KeyPair): Record<string, string> {
  return { SAML_IDP_CERT: idp.cert, SAML_IDP_ISSUER: IDP_ISSUER, SAML_IDP_SSO_URL: 'https://idp.test.example/sso', SAML_SP_ENTITY_ID: SP_ENTITY, SAML_ACS_URL: ACS_URL };
}

export async function issuance(ctx: BenchContext): Promise<CaseResult> {
  // Many short rounds: this VM's speed drifts within seconds, and a ratio is taken per round pair.
  const rounds = ctx.quick ? 2 : 16;
  const perRound = ctx.quick ? 100 : 200;
  // Enough for the JIT to settle: with 150, the first rounds still ran 20-30 % slower on every side.
  const warmup = ctx.quick ? 40 : 500;
  const { idp, sign } = await responseSigner();
  const t0 = Date.now();
  // Disjoint sets: [warm-up, round 0, round 1, …] for each target.
  const sets = { acs: [] as string[][], baseline: [] as string[][], validate: [] as string[][] };
  for (const key of ['acs', 'baseline', 'validate'] as const) {
    for (let r = 0; r <= rounds; r++) {
      const set: string[] = [];
      for (let k = 0; k < (r === 0 ? warmup : perRound); k++) set.push(await sign());
      sets[key].push(set);
    }
  }
  ctx.log(`  ${3 * (warmup + rounds * perRound)} SAML Responses signed in ${Math.round((Date.now() - t0) / 1000)} s`);

  const jwtKey = newSigningKey('ES256');
  const env = samlEnv(idp);
  const tokenService = await ctx.startTokenService('token-service', {
    ...env, JWT_PRIVATE_KEY: jwtKey.privatePem, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, RATE_LIMIT_MAX: '1000000', SWEEP_INTERVAL_SECONDS: '0',
    // The responses are unsolicited (as the baselines accept them, saml-baseline.ts); the service's default is off.
    SAML_ALLOW_IDP_INITIATED: 'true',
  });
  const baseline = await ctx.startBaseline('saml-baseline', { ...env, BASELINE: 'node-saml' });
  const validate = await ctx.startBaseline('saml-baseline', { ...env, BASELINE: 'validate' });
  const pg = () => (ctx.postgresPid === null ? [] : [ctx.postgresPid]);
  const acs = { name: 'token-service /saml/acs', pids: () => [tokenService.proc.pid], load: { url: `${tokenService.url}/saml/acs`, connections: CONNECTIONS } };
  const alone = { name: 'node-saml signature validation alone', pids: () => [baseline.proc.pid], load: { url: `${baseline.url}/saml/acs`, connections: CONNECTIONS } };
  const ours = { name: 'our validateSamlResponse, no DB/JWT', pids: () => [validate.proc.pid], load: { url: `${validate.url}/saml/acs`, connections: CONNECTIONS } };
  await interleave(
    [{ ...acs, perRound: () => ({ requests: eachBody(sets.acs[0]!) }) }, { ...alone, perRound: () => ({ requests: eachBody(sets.baseline[0]!) }) }, { ...ours, perRound: () => ({ requests: eachBody(sets.validate[0]!) }) }],
    { rounds: 1, amount: warmup },
    () => {},
  );
  const pgCpu0 = treeCpuSeconds(pg());
  const [a, b, v] = await interleave(
    [
      { ...acs, perRound: (r) => ({ requests: eachBody(sets.acs[r + 1]!) }) },
      { ...alone, perRound: (r) => ({ requests: eachBody(sets.baseline[r + 1]!) }) },
      { ...ours, perRound: (r) => ({ requests: eachBody(sets.validate[r + 1]!) }) },
    ],
    { rounds, amount: perRound },
    ctx.log,
  );
  const pgCpuUs = pg().length ? ((treeCpuSeconds(pg()) - pgCpu0) / (rounds * perRound)) * 1e6 : NaN;
  const ratio = pairedRatio(a!, b!);
  const validateRatio = pairedRatio(v!, b!);
  const capacity = pairedCapacity(a!, b!);
  return {
    id: '6',
    title: 'token issuance vs node-saml validation alone',
    rows: [
      { bench: '6', measure: `throughput, ${CONNECTIONS} connections, distinct signed responses`, value: `${fmt(a!.rps, 0)} req/s`, baseline: `${fmt(b!.rps, 0)} req/s`, ratio: fmt(ratio), target: '≥ 0.8', met: ratio >= 0.8 },
      { bench: '6', measure: 'p99 latency, saturated', value: `${fmt(a!.p99Ms, 1)} ms`, baseline: `${fmt(b!.p99Ms, 1)} ms`, ratio: fmt(a!.p99Ms / b!.p99Ms), target: '', met: null },
      { bench: '6', measure: 'server CPU per request, + Postgres for /saml/acs (capacity ratio)', value: `${fmt(a!.cpuUsPerRequest, 0)} µs + ${fmt(pgCpuUs, 0)} µs`, baseline: `${fmt(b!.cpuUsPerRequest, 0)} µs`, ratio: fmt(capacity), target: '≥ 0.8', met: capacity >= 0.8 },
      { bench: '6', measure: 'our validateSamlResponse alone (no DB, no JWT)', value: `${fmt(v!.rps, 0)} req/s, ${fmt(v!.cpuUsPerRequest, 0)} µs CPU`, baseline: `${fmt(b!.rps, 0)} req/s, ${fmt(b!.cpuUsPerRequest, 0)} µs CPU`, ratio: fmt(validateRatio), target: '(informative)', met: null },
    ],
    data: { acs: a, nodeSamlAlone: b, ourValidateAlone: v, ratio, validateRatio, capacity, postgresCpuUsPerIssuance: pgCpuUs },
  };
}
