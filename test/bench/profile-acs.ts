/**
 * `node --import tsx test/bench/profile-acs.ts [--requests 1500]`: profiles POST /saml/acs. Starts the
 * token-service from dist/ under `node --cpu-prof` on the server core with bench 6's settings, sends it
 * distinct signed SAML Responses as bench 6 does (10 connections), stops it, and prints the top
 * self-time functions and files and the inclusive time of the token-service's own functions. The
 * .cpuprofile is kept in bench-results/ (open it in Chrome DevTools). `--baseline validate` (or
 * `node-saml`) profiles that baseline server of bench 6 instead, to compare with.
 */
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIdpKeys } from '../../services/dev-idp/keys.js';
import { signSamlResponse } from '../../services/dev-idp/sign.js';
import { ACS_URL, IDP_ISSUER, SP_ENTITY } from '../helpers/token-service.js';
import { AUDIENCE, ISSUER } from '../helpers/tokens.js';
import { eachBody } from './cases/issuance.js';
import { BenchContext } from './lib/context.js';
import { fmt, interleave } from './lib/load.js';
import { LOAD_CORE, pin } from './lib/proc.js';
import { writeJson } from './lib/report.js';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function and package, and inclusive time of the functions under services/ (µs → %). */
function times(profile: CpuProfile, root: string) {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const where = (id: number) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const file = url.startsWith('file://') ? relative(root, fileURLToPath(url)) : url || '(native)';
    return { fn: `${functionName || '(anonymous)'} ${file}${file.startsWith('(') ? '' : `:${lineNumber + 1}`}`, file, idle: functionName === '(idle)' };
  };
  const self = new Map<string, number>();
  const pkgs = new Map<string, number>();
  const ours = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const leaf = where(id);
    if (leaf.idle) return;
    total += us;
    add(self, leaf.fn, us);
    add(pkgs, /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(leaf.file)?.[1] ?? leaf.file, us);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const w = where(n);
      if (/^(dist\/)?services\//.test(w.file) && !seen.has(w.fn)) (seen.add(w.fn), add(ours, w.fn, us));
    }
  });
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => ({ name, ms: us / 1000, percent: (100 * us) / total }));
  return { totalMs: total / 1000, functions: top(self, 30), files: top(pkgs, 20), ours: top(ours, 40) };
}

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
    const idp = await generateIdpKeys();
    const notOnOrAfter = new Date(Date.now() + 30 * 60_000);
    const bodies: string[] = [];
    for (let i = 0; i <= requests; i++) {
      const { samlResponse } = await signSamlResponse({
        idp, issuer: IDP_ISSUER, acsUrl: ACS_URL, audience: SP_ENTITY, nameId: 'alice@example.com', email: 'alice@example.com',
        groups: ['staff', 'admins'], notOnOrAfter, subjectNotOnOrAfter: notOnOrAfter,
      });
      bodies.push(`SAMLResponse=${encodeURIComponent(samlResponse)}`);
    }
    const profDir = join(ctx.dir, 'prof');
    const entry = join(root, 'dist', 'services', 'token-service', 'main.js');
    const env = { SAML_IDP_CERT: idp.cert, SAML_IDP_ISSUER: IDP_ISSUER, SAML_IDP_SSO_URL: 'https://idp.test.example/sso', SAML_SP_ENTITY_ID: SP_ENTITY, SAML_ACS_URL: ACS_URL };
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
    const [file] = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('the token-service wrote no .cpuprofile');
    const profile = JSON.parse(await readFile(join(profDir, file), 'utf8')) as CpuProfile;
    const t = times(profile, root);
    log(`\n${fmt(s!.rps, 0)} req/s, ${fmt(s!.cpuUsPerRequest, 1)} µs CPU/request under the profiler; ${fmt(t.totalMs, 0)} ms busy (percentages below are of that)\n`);
    log('self time by function:');
    for (const f of t.functions) log(`  ${fmt(f.percent, 1).padStart(5)}%  ${f.name}`);
    log('\nself time by file or package:');
    for (const f of t.files) log(`  ${fmt(f.percent, 1).padStart(5)}%  ${f.name}`);
    log('\ninclusive time of our functions:');
    for (const f of t.ours) log(`  ${fmt(f.percent, 1).padStart(5)}%  ${f.name}`);
    const out = await writeJson(root, { time: new Date().toISOString(), kind: 'profile-acs', baseline: baseline ?? null, load: s, ...t });
    const kept = out.replace(/\.json$/, '.cpuprofile');
    await copyFile(join(profDir, file), kept);
    log(`\nJSON: ${out}\nprofile: ${kept}`);
  } finally {
    await ctx.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`profile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
