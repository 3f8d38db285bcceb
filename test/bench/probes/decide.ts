// Probe (see README.md): the /auth decision in process, no HTTP: ns per decide() and per part, on the
// request bench 1 sends (a cached staff token, an allowed route), from the TypeScript sources (tsx).
import { performance } from 'node:perf_hooks';
import { buildApp } from '../../../services/authz-service/app.js';
import { loadAuthzServiceConfig } from '../../../services/authz-service/config.js';
import { authDecider } from '../../../services/authz-service/routes/auth-decision.js';
import { readOriginalRequest } from '../../../services/authz-service/request/front-end.js';
import { normalizePath } from '../../../services/authz-service/request/path.js';
import { presentedToken } from '../../../services/shared/cookies.js';
import { evaluate } from '../../../services/authz-service/policy/evaluate.js';
import { requestIdOf } from '../../../services/shared/logging.js';
import { TEST_POLICY, writePolicy } from '../../helpers/authz.js';
import { AUDIENCE, ISSUER } from '../../helpers/tokens.js';
import { authHeaders, BenchContext } from '../lib/context.js';
import { log, root } from './old-and-new.js';
import { LOAD_CORE, pin } from '../lib/proc.js';

pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const [live] = await ctx.mintTokens(1);
  const config = loadAuthzServiceConfig({
    DATABASE_URL: ctx.databaseUrl, POLICY_FILE: await writePolicy(TEST_POLICY), JWT_PUBLIC_KEYS: ctx.jwtKey.publicPem,
    JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config);
  const { liveness, policy, keys } = app.authz;
  const metrics = { decided: () => {} } as never;
  const decide = authDecider({ config, metrics, audit: () => {}, policy, keys, liveness, upstream: null });
  const headers = authHeaders(live!.token);
  const rawHeaders = Object.entries(headers).flat();
  const req = { method: 'GET', url: '/auth', headers, rawHeaders, socket: { remoteAddress: '127.0.0.1' } };
  const out: string[] = [];
  const first = decide(req, 'r', out);
  if ((await first) !== 200) throw new Error(`decide answered ${await first}`);
  const N = 200_000;
  const time = (name: string, fn: () => unknown) => {
    for (let i = 0; i < 20_000; i++) fn();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) fn();
    log(`${name.padEnd(40)} ${(((performance.now() - t0) * 1e6) / N).toFixed(0).padStart(6)} ns`);
  };
  const original = readOriginalRequest('nginx', req, { envoyPathPrefix: '/auth/ext' });
  if (!original.ok) throw new Error(original.reason);
  const path = normalizePath(original.rawPath, config.pathRelaxations);
  if (!path.ok) throw new Error(path.reason);
  const token = live!.token;
  const claims = (keys.verify(token) as { claims: { jti: string; subject: string } }).claims;
  for (let round = 0; round < 2; round++) {
    time('decide() whole', () => { out.length = 0; return decide(req, 'r', out); });
    time('requestIdOf', () => requestIdOf(req));
    time('readOriginalRequest', () => readOriginalRequest('nginx', req, { envoyPathPrefix: '/auth/ext' }));
    time('normalizePath', () => normalizePath(original.rawPath, config.pathRelaxations));
    time('presentedToken', () => presentedToken(headers.authorization, undefined, config.cookieName));
    time('keys.verify (SHA-256 + cache)', () => keys.verify(token));
    time('liveness.check', () => liveness.check(claims.jti, claims.subject));
    time('evaluate', () => evaluate(policy.current.compiled, { method: 'GET', host: original.host, path: path.path, clientIp: '198.51.100.7' }, claims as never));
    time('performance.now', () => performance.now());
  }
  await app.close();
} finally {
  await ctx.close();
}
