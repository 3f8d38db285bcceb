/**
 * Soak: a bounded run through a real authz-service process at a steady rate on loopback.
 *
 *   npm run soak                     # 5 minutes, 300 requests/s
 *   npm run soak -- --minutes 3 --rate 500 [--tsx]
 *
 * Starts its own embedded Postgres (or uses DATABASE_URL: it creates and drops a database there),
 * builds (`npm run build`) and runs `node dist/services/authz-service/main.js` (`--tsx` runs the
 * TypeScript entry instead), sends an open-loop steady load (live tokens, a denied route, unknown
 * tokens, a revocation every few seconds), and prints per minute: requests, p50/p99 latency,
 * unexpected answers, RSS and open file descriptors of the service process. Exits 1 when an answer was
 * unexpected, the descriptors grew, RSS kept growing, or p99 degraded. Stops everything it started.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../services/shared/embedded-postgres.js';
import { connect } from '../../services/shared/db/connect.js';
import { migrateToLatest } from '../../services/shared/db/migrator.js';
import { AUDIENCE, ISSUER, mint, mintLive, newSigningKey } from '../helpers/tokens.js';
import { TINY_POLICY } from '../reliability/fixtures/fixtures.js';

interface Options {
  minutes: number;
  rate: number;
  tsx: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { minutes: 5, rate: 300, tsx: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--minutes') opts.minutes = Number(argv[++i]);
    else if (a === '--rate') opts.rate = Number(argv[++i]);
    else if (a === '--tsx') opts.tsx = true;
    else throw new Error(`unknown argument ${a} (use --minutes N, --rate R, --tsx)`);
  }
  if (!(opts.minutes > 0 && opts.minutes <= 120)) throw new Error('--minutes must be in (0, 120]');
  if (!(opts.rate > 0 && opts.rate <= 5000)) throw new Error('--rate must be in (0, 5000]');
  return opts;
}

interface Minute {
  latencies: number[];
  unexpected: Map<string, number>;
  rssMb: number;
  fds: number;
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);

async function processFigures(pid: number): Promise<{ rssMb: number; fds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  return { rssMb: rssKb / 1024, fds };
}

function startAuthz(entry: string[], env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, entry, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('authz-service did not start within 60 s'));
    }, 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { port?: number; metrics_port?: number };
        if (parsed.port !== undefined && parsed.metrics_port !== undefined) {
          clearTimeout(timer);
          resolve({ child, port: parsed.port });
        }
      } catch {
        /* not JSON */
      }
    });
    child.once('exit', (code) => reject(new Error(`authz-service exited with ${code}`)));
  });
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));
  try {
    // ---- Postgres and a database of our own ----
    let adminUrl = process.env.DATABASE_URL;
    if (!adminUrl) {
      const dataDir = await mkdtemp(join(tmpdir(), 'soak-pg-'));
      const server: EmbeddedPg = await startEmbeddedPostgres({ dataDir, persistent: false });
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }), () => server.stop());
      adminUrl = server.adminUrl;
    }
    const dbName = `soak_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    cleanups.push(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    });
    const url = new URL(adminUrl);
    url.pathname = `/${dbName}`;
    const db = connect({ url: url.toString(), poolMax: 2 });
    cleanups.push(() => db.destroy());
    await migrateToLatest(db.kysely);

    const key = newSigningKey('ES256');
    const live = await Promise.all(Array.from({ length: 200 }, () => mintLive(db.kysely, key, { subject: 'alice@example.com', exp: Math.floor(Date.now() / 1000) + 3 * 3600 })));
    const policyDir = await mkdtemp(join(tmpdir(), 'soak-policy-'));
    cleanups.push(() => rm(policyDir, { recursive: true, force: true }));
    await writeFile(join(policyDir, 'policy.yaml'), TINY_POLICY);

    // ---- the service process ----
    let entry: string[];
    if (opts.tsx) entry = ['--import', 'tsx', 'services/authz-service/main.ts'];
    else {
      const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
      if (build.status !== 0) throw new Error('npm run build failed');
      entry = ['dist/services/authz-service/main.js'];
    }
    const svc = await startAuthz(entry, {
      DATABASE_URL: url.toString(),
      HOST: '127.0.0.1',
      PORT: '0',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info', // the start line names the ports; ACCESS_LOG=false keeps the rest quiet
      ACCESS_LOG: 'false',
      SHUTDOWN_DELAY_SECONDS: '0',
      POLICY_FILE: join(policyDir, 'policy.yaml'),
      JWT_PUBLIC_KEYS: key.publicPem,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      CACHE_TTL_SECONDS: '30',
    });
    const pid = svc.child.pid!;
    cleanups.push(async () => {
      if (svc.child.exitCode !== null) return;
      svc.child.kill('SIGTERM');
      await new Promise((r) => svc.child.once('exit', r));
    });
    process.stdout.write(`soak: authz-service pid ${pid} (${entry.join(' ')}) on 127.0.0.1:${svc.port}; ${opts.rate} req/s for ${opts.minutes} min\n`);

    // ---- steady open-loop load ----
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    cleanups.push(() => agent.destroy());
    const revoked = new Set<string>();
    const revoking = new Set<string>();
    const pick = (i: number): { headers: Record<string, string>; expect: number[] } => {
      const base = { 'x-original-method': 'GET', host: 'app.example.com' };
      const r = i % 20;
      if (r === 0) return { headers: { ...base, 'x-original-uri': '/a/b', authorization: `Bearer ${mint(key).token}` }, expect: [401] }; // unknown
      const tok = live[i % live.length]!;
      // A revoked token is 401 before the policy is asked; while a revocation is on its way, either answer.
      const ifLive = (status: number) => (revoked.has(tok.jti) ? [401] : revoking.has(tok.jti) ? [status, 401] : [status]);
      if (r === 1) return { headers: { ...base, 'x-original-uri': '/a/c', authorization: `Bearer ${tok.token}` }, expect: ifLive(403) };
      if (r === 2) return { headers: { ...base, 'x-original-uri': '/pub' }, expect: [200] };
      return { headers: { ...base, 'x-original-uri': '/a/b', authorization: `Bearer ${tok.token}` }, expect: ifLive(200) };
    };
    const minutes: Minute[] = [];
    let current: Minute = { latencies: [], unexpected: new Map(), rssMb: 0, fds: 0 };
    let sent = 0;
    let inFlight = 0;
    const fire = () => {
      const { headers, expect } = pick(sent++);
      const bucket = current;
      const t0 = performance.now();
      inFlight++;
      const req = request({ host: '127.0.0.1', port: svc.port, path: '/auth', agent, headers, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          inFlight--;
          bucket.latencies.push(performance.now() - t0);
          if (!expect.includes(res.statusCode ?? 0)) bucket.unexpected.set(String(res.statusCode), (bucket.unexpected.get(String(res.statusCode)) ?? 0) + 1);
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        inFlight--;
        bucket.unexpected.set(err.message, (bucket.unexpected.get(err.message) ?? 0) + 1);
      });
      req.end();
    };
    const tickMs = 10;
    const perTick = opts.rate / (1000 / tickMs);
    let credit = 0;
    const started = Date.now();
    const ticker = setInterval(() => {
      credit += perTick;
      while (credit >= 1) {
        credit--;
        fire();
      }
    }, tickMs);
    cleanups.push(() => clearInterval(ticker));
    // A revocation every 5 s (the NOTIFY path under load), of a token the load keeps presenting.
    let revokeIndex = 0;
    const revoker = setInterval(() => {
      const tok = live[live.length - 1 - revokeIndex++];
      if (!tok) return;
      revoking.add(tok.jti); // until a second has passed, either answer is right (the revocation races the load)
      void db.pool.query('update issued_tokens set revoked_at = now() where jti = $1', [tok.jti]).then(() => setTimeout(() => revoked.add(tok.jti), 1000));
    }, 5000);
    cleanups.push(() => clearInterval(revoker));

    process.stdout.write('minute  requests  p50 ms  p99 ms  max ms  unexpected  rss MB  fds\n');
    for (let m = 1; m <= Math.ceil(opts.minutes); m++) {
      const end = started + Math.min(m, opts.minutes) * 60_000;
      await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
      const done = current;
      current = { latencies: [], unexpected: new Map(), rssMb: 0, fds: 0 };
      const figures = await processFigures(pid);
      done.rssMb = figures.rssMb;
      done.fds = figures.fds;
      minutes.push(done);
      const sorted = [...done.latencies].sort((a, b) => a - b);
      const unexpected = [...done.unexpected.values()].reduce((a, b) => a + b, 0);
      process.stdout.write(
        `${String(m).padStart(6)}  ${String(sorted.length).padStart(8)}  ${percentile(sorted, 50).toFixed(2).padStart(6)}  ${percentile(sorted, 99).toFixed(2).padStart(6)}  ${(sorted.at(-1) ?? NaN).toFixed(1).padStart(6)}  ${String(unexpected).padStart(10)}  ${figures.rssMb.toFixed(1).padStart(6)}  ${String(figures.fds).padStart(3)}${done.unexpected.size ? `  ${JSON.stringify(Object.fromEntries(done.unexpected))}` : ''}\n`,
      );
    }
    clearInterval(ticker);
    clearInterval(revoker);
    const drainUntil = Date.now() + 10_000;
    while (inFlight > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 50));

    // ---- verdict ----
    const p99s = minutes.map((m) => percentile([...m.latencies].sort((a, b) => a - b), 99));
    const unexpected = minutes.reduce((n, m) => n + [...m.unexpected.values()].reduce((a, b) => a + b, 0), 0);
    const settled = minutes.length > 1 ? minutes.slice(1) : minutes; // the first minute includes warm-up
    const fdGrowth = settled.at(-1)!.fds - settled[0]!.fds;
    const rssGrowth = settled.at(-1)!.rssMb - settled[0]!.rssMb;
    const settledP99 = minutes.length > 1 ? p99s.slice(1) : p99s;
    const p99Ratio = Math.max(...settledP99) / Math.min(...settledP99);
    const checks = [
      [`no unexpected answer (${unexpected})`, unexpected === 0],
      [`open file descriptors did not grow after warm-up (${fdGrowth >= 0 ? '+' : ''}${fdGrowth})`, fdGrowth <= 2],
      [`RSS stable after warm-up (${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)} MB)`, rssGrowth < 40],
      [`p99 stable after warm-up (worst/best minute ${p99Ratio.toFixed(2)})`, p99Ratio < 3],
    ] as const;
    process.stdout.write(`\nsoak: ${sent} requests in ${((Date.now() - started) / 60_000).toFixed(2)} min at ${opts.rate}/s\n`);
    for (const [what, ok] of checks) process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'}  ${what}\n`);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
