/**
 * `npm start` — the whole system on one machine for trying it out: a real Postgres (embedded, unless
 * DATABASE_URL is set), migrations, development keys, the development IdP, the token-service and the
 * authz-service started exactly as operators start them (their entry points, environment only).
 * Ctrl-C / SIGTERM stops everything it started, Postgres included. Development tooling only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPg } from '../shared/embedded-postgres.js';
import { connect } from '../shared/db/connect.js';
import { migrateToLatest } from '../shared/db/migrator.js';
import { buildDevIdp } from '../dev-idp/app.js';
import { devKeys } from './keys.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), process.argv[1]?.includes(`${join('dist', 'services')}`) ? '../../..' : '../..');
const STATE = process.env.SAML_AUTHZ_DEV_DIR ?? join(ROOT, '.dev');
const HOST = '127.0.0.1';
const PORTS = { idp: 8079, token: 8080, authz: 8081, tokenMetrics: 9464, authzMetrics: 9465 };
const DATABASE = 'saml_authz';

const say = (line: string) => process.stdout.write(`${line}\n`);
const children: ChildProcess[] = [];
let pgServer: EmbeddedPg | undefined;
let idp: Awaited<ReturnType<typeof buildDevIdp>> | undefined;

async function databaseUrl(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  pgServer = await startEmbeddedPostgres({ dataDir: join(STATE, 'postgres'), persistent: true });
  const admin = new pg.Client({ connectionString: pgServer.adminUrl });
  await admin.connect();
  const exists = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  return pgServer.urlFor(DATABASE);
}

function startService(name: string, entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', join(ROOT, 'dist', 'services', entry, 'main.js')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (l) => say(`[${name}] ${l}`));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping everything`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let stopping: Promise<void> | undefined;
function stop(code: number): Promise<void> {
  return (stopping ??= (async () => {
    await Promise.all(
      children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise<void>((r) => { c.once('exit', () => r()); c.kill('SIGTERM'); }))),
    );
    await idp?.close();
    await pgServer?.stop();
    process.exit(code);
  })());
}

async function main(): Promise<void> {
  // embedded-postgres installs exit hooks of its own; this script stops Postgres itself, after the services.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  const url = await databaseUrl();
  const db = connect({ url, poolMax: 1 });
  await migrateToLatest(db.kysely);
  await db.destroy();
  const keys = await devKeys(join(STATE, 'keys'));

  const base = `http://${HOST}`;
  const tokenUrl = `${base}:${PORTS.token}`;
  const idpUrl = `${base}:${PORTS.idp}`;
  const saml = { issuer: `${idpUrl}/dev-idp`, acsUrl: `${tokenUrl}/saml/acs`, spEntityId: `${tokenUrl}/saml/metadata` };
  idp = await buildDevIdp({ idp: keys.idp, ...saml, defaultUser: { nameId: 'alice@example.com', email: 'alice@example.com', groups: ['employees', 'admins'] } });
  await idp.listen({ host: HOST, port: PORTS.idp });

  const common = { DATABASE_URL: url, HOST, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', SHUTDOWN_DELAY_SECONDS: '0' };
  startService('token-service', 'token-service', {
    ...common,
    PORT: String(PORTS.token),
    METRICS_PORT: String(PORTS.tokenMetrics),
    SAML_IDP_CERT: keys.idp.cert,
    SAML_IDP_ISSUER: saml.issuer,
    SAML_IDP_SSO_URL: `${idpUrl}/sso`,
    SAML_SP_ENTITY_ID: saml.spEntityId,
    SAML_ACS_URL: saml.acsUrl,
    JWT_PRIVATE_KEY: keys.jwtPrivateKey,
    JWT_ISSUER: tokenUrl,
    JWT_AUDIENCE: 'saml-authz-dev',
    // Secure cookies (the default, and the __Host- login-state cookie) are accepted from http://127.0.0.1
    // by Chromium and Firefox; the dev IdP's tile signs in without a request.
    SAML_ALLOW_IDP_INITIATED: 'true',
    ALLOWED_RETURN_URLS: `${base}:8000/,http://localhost:8000/,${tokenUrl}/`,
  });
  await waitReady(`${tokenUrl}/readyz`, 120_000);
  startService('authz-service', 'authz-service', {
    ...common,
    PORT: String(PORTS.authz),
    METRICS_PORT: String(PORTS.authzMetrics),
    FRONT_END: 'nginx',
    POLICY_FILE: join(ROOT, 'examples', 'policy.yaml'),
    JWKS_URL: `${tokenUrl}/.well-known/jwks.json`,
    JWT_ISSUER: tokenUrl,
    JWT_AUDIENCE: 'saml-authz-dev',
  });
  await waitReady(`${base}:${PORTS.authz}/readyz`, 120_000);

  say(`
saml-authz is running (development: embedded Postgres ${pgServer ? `on ${HOST}:${pgServer.port}, data in .dev/postgres` : 'from DATABASE_URL'}).
  token-service   ${tokenUrl}            (/saml/acs, /saml/login, /saml/metadata, /.well-known/jwks.json, /logout)
  authz-service   ${base}:${PORTS.authz}            (/auth — point NGINX auth_request here; policy examples/policy.yaml)
  metrics         ${base}:${PORTS.tokenMetrics}/metrics, ${base}:${PORTS.authzMetrics}/metrics
  dev IdP         ${idpUrl}/idp-initiated   (signs in alice@example.com like an Okta tile)
Try:  curl -s -H 'accept: application/json' -d "SAMLResponse=..." ${tokenUrl}/saml/acs   — or open ${tokenUrl}/saml/login
Ctrl-C stops everything.`);
}

main().catch((err: unknown) => {
  say(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
  void stop(1);
});
