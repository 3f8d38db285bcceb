/**
 * `node --import tsx test/bench/profile-acs.ts [--requests 1500]`: profiles POST /saml/acs. Starts the
 * token-service from dist/ under `node --cpu-prof` on the server core with bench 6's settings, sends it
 * distinct signed SAML Responses as bench 6 does (10 connections), stops it, and prints the top
 * self-time functions and files and the inclusive time of the token-service's own functions. The
 * .cpuprofile is kept in bench-results/ (open it in Chrome DevTools). `--baseline validate` (or
 * `node-saml`) profiles that baseline server of bench 6 instead, to compare with.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUDIENCE, ISSUER } from '../helpers/tokens.js';
import { eachBody, responseSigner, samlEnv } from './cases/issuance.js';
import { BenchContext } from './lib/context.js';
import { interleave } from './lib/load.js';
import { reportProfile, runProfiler } from './lib/cpu-profile.js';
import { LOAD_CORE, pin } from './lib/proc.js';

async function main(): Promise<void> {
  const arg = process.argv.indexOf('--requests');
  const requests = arg > 0 ? Number(process.argv[arg + 1]) : 1500;
  const b = process.argv.indexOf('--baseline');
  const baseline = b > 0 ? process.argv[b + 1] : undefined;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  pin(process.pid, LOAD_CORE);
  const ctx = await BenchContext.open(root, true, log);
  try {
    const { idp, sign } = await responseSigner();
    const bodies: string[] = [];
    for (let i = 0; i <= requests; i++) bodies.push(await sign());
    const profDir = join(ctx.dir, 'prof');
    const entry = join(root, 'dist', 'services', 'token-service', 'main.js');
    const env = samlEnv(idp);
    const flags = ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
    const ts = baseline
      ? await ctx.spawnNode('saml-baseline-prof', [ctx.servers['saml-baseline']], { ...env, BASELINE: baseline }, flags)
      : await ctx.spawnNode('token-service-prof', ['--enable-source-maps', entry], {
        ...env, DATABASE_URL: ctx.databaseUrl, HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', SHUTDOWN_DELAY_SECONDS: '0',
        JWT_PRIVATE_KEY: ctx.jwtKey.privatePem, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, RATE_LIMIT_MAX: '1000000',
        SWEEP_INTERVAL_SECONDS: '0', SAML_ALLOW_IDP_INITIATED: 'true',
      }, flags);
    const [req] = eachBody([]);
    const probe = await fetch(`${ts.url}/saml/acs`, { method: 'POST', headers: req!.headers, body: bodies.shift()! });
    if (probe.status !== 200) {
      throw new Error(`/saml/acs answered ${probe.status} ${await probe.text()}, expected 200; log:\n${(await readFile(ts.proc.logFile, 'utf8')).slice(-3000)}`);
    }
    const [s] = await interleave([{ name: baseline ? `baseline ${baseline}` : 'token-service /saml/acs', pids: () => [ts.proc.pid], load: { url: `${ts.url}/saml/acs`, connections: 10, requests: eachBody(bodies) } }], { rounds: 1, amount: requests }, log);
    await ctx.stopAll();
    await reportProfile(root, profDir, 'profile-acs', s!, { baseline: baseline ?? null }, log);
  } finally {
    await ctx.close();
  }
}

runProfiler(main);
