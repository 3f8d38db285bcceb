/**
 * What every benchmark shares: a Postgres (embedded unless DATABASE_URL is set) with one migrated
 * database, a JWT key, the compiled baseline servers, and starters for the services from dist/ pinned
 * to the server core. Everything started here is stopped by `close()`, by its own pid.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import pg from 'pg';
import { connect, type Db } from '../../../services/shared/db/connect.js';
import { migrateToLatest } from '../../../services/shared/db/migrator.js';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../../services/shared/embedded-postgres.js';
import type { SigningKey } from '../../../services/shared/jwt-keys.js';
import { TEST_POLICY, writePolicy } from '../../helpers/authz.js';
import { AUDIENCE, ISSUER, newSigningKey } from '../../helpers/tokens.js';
import { buildServers, type ServerName } from './build.js';
import { LOAD_CORE, SERVER_CORE, pin, spawnPinned, waitForLogLine, type Spawned } from './proc.js';

export interface Service {
  proc: Spawned;
  port: number;
  metricsPort: number;
  url: string;
}

export interface MintedToken {
  token: string;
  jti: string;
}

/** How {@link BenchContext.spawnNode} runs node: under a wrapper command, with more time to start. */
export interface SpawnOptions {
  wrapper?: string[];
  startTimeoutMs?: number;
  /** startAuthz, startTokenService: the root of another build whose dist/ to start (an A/B probe's previous build). */
  build?: string;
}

export class BenchContext {
  readonly jwtKey: SigningKey = newSigningKey('ES256');
  private readonly started: Spawned[] = [];
  private seq = 0;

  private constructor(
    readonly root: string,
    readonly dir: string,
    readonly quick: boolean,
    private readonly adminUrl: string,
    readonly databaseUrl: string,
    readonly db: Db,
    readonly postgresPid: number | null,
    readonly servers: Record<ServerName, string>,
    private readonly pgServer: EmbeddedPg | undefined,
    private readonly pgDir: string | undefined,
    readonly log: (line: string) => void,
  ) {}

  static async open(root: string, quick: boolean, log: (line: string) => void): Promise<BenchContext> {
    const dir = await mkdtemp(join(tmpdir(), 'saml-authz-bench-'));
    let server: EmbeddedPg | undefined;
    let adminUrl = process.env.DATABASE_URL;
    let postgresPid: number | null = null;
    let pgDir: string | undefined;
    if (!adminUrl) {
      // Its own directory (as root, Postgres runs as the `postgres` user, which must reach it).
      pgDir = await mkdtemp(join(tmpdir(), 'saml-authz-bench-pg-'));
      server = await startEmbeddedPostgres({ dataDir: pgDir, persistent: false });
      adminUrl = server.adminUrl;
      // Postgres shares the load generator's core: the server core measures the service alone.
      postgresPid = Number((await readFile(join(pgDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
      pin(postgresPid, LOAD_CORE);
    }
    const name = `bench_${process.pid}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const db = connect({ url: url.toString(), poolMax: 4 });
    await migrateToLatest(db.kysely);
    const servers = await buildServers(root);
    return new BenchContext(root, dir, quick, adminUrl, url.toString(), db, postgresPid, servers, server, pgDir, log);
  }

  /**
   * Spawns `node args` on the server core; resolves once it logs its ports. `run.wrapper` runs node
   * under another program (valgrind: probes/instructions.ts), which may need `run.startTimeoutMs`.
   */
  async spawnNode(label: string, args: string[], env: Record<string, string>, nodeFlags: string[] = [], run: SpawnOptions = {}): Promise<Service> {
    const logFile = join(this.dir, `${label}-${++this.seq}.log`);
    const [command, ...prefix] = [...(run.wrapper ?? []), process.execPath];
    const proc = spawnPinned(SERVER_CORE, command!, [...prefix, ...nodeFlags, ...args], env, logFile);
    this.started.push(proc);
    const line = await waitForLogLine(proc, ['port', 'metrics_port'], run.startTimeoutMs);
    const port = Number(line.port);
    return { proc, port, metricsPort: Number(line.metrics_port), url: `http://127.0.0.1:${port}` };
  }

  /** The authz-service from dist/ as the Dockerfile runs it, with the test policy unless told otherwise. */
  async startAuthz(label: string, env: Record<string, string> = {}, nodeFlags: string[] = [], run: SpawnOptions = {}): Promise<Service> {
    const entry = join(run.build ?? this.root, 'dist', 'services', 'authz-service', 'main.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
    return this.spawnNode(label, ['--enable-source-maps', entry], {
      DATABASE_URL: this.databaseUrl,
      POLICY_FILE: await writePolicy(TEST_POLICY),
      JWT_PUBLIC_KEYS: this.jwtKey.publicPem,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      HOST: '127.0.0.1',
      PORT: '0',
      METRICS_PORT: '0',
      SHUTDOWN_DELAY_SECONDS: '0',
      ...env,
    }, nodeFlags, run);
  }

  /** The token-service from dist/. */
  async startTokenService(label: string, env: Record<string, string>, run: SpawnOptions = {}): Promise<Service> {
    const entry = join(run.build ?? this.root, 'dist', 'services', 'token-service', 'main.js');
    return this.spawnNode(label, ['--enable-source-maps', entry], {
      DATABASE_URL: this.databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      METRICS_PORT: '0',
      SHUTDOWN_DELAY_SECONDS: '0',
      ...env,
    }, [], run);
  }

  /** A compiled baseline server. */
  startBaseline(name: ServerName, env: Record<string, string> = {}, nodeFlags: string[] = [], run: SpawnOptions = {}): Promise<Service> {
    return this.spawnNode(name, [this.servers[name]], env, nodeFlags, run);
  }

  track(proc: Spawned): void {
    this.started.push(proc);
  }

  /** Signs `n` distinct tokens (group staff) and writes their rows, as the token-service would. */
  async mintTokens(n: number, ttlSeconds = 3600): Promise<MintedToken[]> {
    const sign = createSigner({ key: this.jwtKey.privatePem, algorithm: this.jwtKey.algorithm, kid: this.jwtKey.kid });
    const now = Math.floor(Date.now() / 1000);
    const out: MintedToken[] = [];
    for (let i = 0; i < n; i += 1000) {
      const rows = [];
      for (let j = i; j < Math.min(n, i + 1000); j++) {
        const jti = randomUUID();
        const subject = `user${j}@example.com`;
        out.push({ jti, token: sign({ iss: ISSUER, aud: AUDIENCE, sub: subject, jti, iat: now, nbf: now, exp: now + ttlSeconds, email: subject, groups: ['staff'] }) });
        rows.push({
          jti,
          subject,
          email: subject,
          groups: ['staff'],
          idp_issuer: 'https://idp.bench.example',
          session_index: null,
          client_address: '127.0.0.1',
          issued_at: new Date((now - 1) * 1000),
          expires_at: new Date((now + ttlSeconds) * 1000),
        });
      }
      await this.db.kysely.insertInto('issued_tokens').values(rows).execute();
    }
    return out;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.started.map((p) => p.stop()));
    this.started.length = 0;
  }

  async close(): Promise<void> {
    await this.stopAll();
    await this.db.destroy();
    if (this.pgServer) await this.pgServer.stop();
    else {
      const admin = new pg.Client({ connectionString: this.adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${new URL(this.databaseUrl).pathname.slice(1)} WITH (FORCE)`);
      await admin.end();
    }
    // BENCH_KEEP_LOGS=1 keeps the servers' logs (and NGINX's configuration) for a look afterwards.
    if (process.env.BENCH_KEEP_LOGS) process.stderr.write(`servers' logs kept in ${this.dir}\n`);
    else await rm(this.dir, { recursive: true, force: true });
    if (this.pgDir) await rm(this.pgDir, { recursive: true, force: true });
  }
}

/** The headers NGINX's auth subrequest carries for `GET https://app.example.com/app/home`. */
export function authHeaders(token: string, path = '/app/home'): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    host: 'app.example.com',
    'x-original-uri': path,
    'x-original-method': 'GET',
    'x-real-ip': '198.51.100.7',
  };
}
