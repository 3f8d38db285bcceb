/**
 * `npm start` — the whole system on one machine for trying it out: a real Postgres (embedded, unless
 * DATABASE_URL is set), migrations, development keys, the development IdP, the token-service and the
 * authz-service started exactly as operators start them (their compiled entry points, environment
 * only). Ctrl-C / SIGTERM stops everything it started, Postgres included. Development tooling only: it
 * runs from source (tsx), is not compiled into dist/ nor into any image, and refuses NODE_ENV=production.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPg } from '../shared/embedded-postgres.js';
import { connect } from '../shared/db/connect.js';
import { migrateToLatest } from '../shared/db/migrator.js';
import { devDatabaseUrlFile, devStateDir, redactUrl } from '../shared/db/cli-database-url.js';
import { buildDevIdp } from '../dev-idp/app.js';
import { devKeys } from './keys.js';
import { checkPortFree } from './ports.js';
import { prettyLine } from './pretty.js';
import { takeStartLock, type StartLock } from './lock.js';
import { banner, demoPort, devPorts, type Ports } from './banner.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const HOST = '127.0.0.1';
const DATABASE = 'saml_authz';
const PRETTY = process.stdout.isTTY === true;

const say = (line: string) => process.stdout.write(`${line}\n`);
const children: ChildProcess[] = [];
let pgServer: EmbeddedPg | undefined;
let idp: Awaited<ReturnType<typeof buildDevIdp>> | undefined;
let lock: StartLock | undefined;
let urlFile: string | undefined;

async function databaseUrl(state: string): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  try {
    pgServer = await startEmbeddedPostgres({ dataDir: join(state, 'postgres'), persistent: true });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const pid = /in use by another Postgres \(pid (\d+)\)/.exec(message)?.[1];
    throw new Error(`embedded Postgres: ${message}${pid ? `, left running by an earlier npm start that did not stop cleanly? Stop it (kill ${pid}) and try again` : ''}`);
  }
  const admin = new pg.Client({ connectionString: pgServer.adminUrl });
  await admin.connect();
  const exists = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  const url = pgServer.urlFor(DATABASE);
  // The CLIs (npm run migrate, npm run revoke) find the running stack's database here.
  urlFile = devDatabaseUrlFile(process.env);
  await writeFile(urlFile, `${url}\n`, { mode: 0o600 });
  return url;
}

function startService(name: string, entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', join(ROOT, 'dist', 'services', entry, 'main.js')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once('error', (err) => fail(new Error(`cannot start the ${name}: ${err.message}`)));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (l) => say(PRETTY ? prettyLine(name, l) : `[${name}] ${l}`));
  }
  child.on('exit', (code, signal) => {
    if (!stopping) fail(new Error(`the ${name} exited (${signal ?? code}); its last lines are above`));
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
    await pgServer?.stop().catch(() => undefined);
    if (urlFile) await rm(urlFile, { force: true });
    await lock?.release();
    process.exit(code);
  })());
}

/** Every failure ends the same way: one line saying what and why, everything stopped, exit 1. */
function fail(err: unknown): void {
  if (stopping) return;
  const message = (err instanceof Error ? err.message : String(err)).split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
  process.stderr.write(`npm start: ${message}\n`);
  void stop(1);
}

async function main(): Promise<void> {
  if (process.env.NODE_ENV === 'production') {
    process.stderr.write('npm start: refused with NODE_ENV=production: it runs a development IdP that signs in anyone as anyone. In production run the images (or npm run start:token-service / start:authz-service with your IdP).\n');
    process.exit(1);
  }
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);

  const port = { ...devPorts(process.env.SAML_AUTHZ_DEV_PORTS), demo: demoPort(process.env.SAML_AUTHZ_DEMO_PORT) };
  const state = devStateDir(process.env);
  lock = await takeStartLock(state);
  const names: [keyof Ports, string][] = [['idp', 'dev IdP'], ['token', 'token-service'], ['authz', 'authz-service'], ['tokenMetrics', 'token-service metrics'], ['authzMetrics', 'authz-service metrics']];
  for (const [key, what] of names) await checkPortFree(HOST, port[key], what);

  const url = await databaseUrl(state);
  const db = connect({ url, poolMax: 1 });
  try {
    await migrateToLatest(db.kysely);
  } finally {
    await db.destroy();
  }
  const keys = await devKeys(join(state, 'keys'));

  const base = `http://${HOST}`;
  const tokenUrl = `${base}:${port.token}`;
  const idpUrl = `${base}:${port.idp}`;
  const saml = { issuer: `${idpUrl}/dev-idp`, acsUrl: `${tokenUrl}/saml/acs`, spEntityId: `${tokenUrl}/saml/metadata` };
  // SAML Single Logout both ways: the dev IdP verifies our logout messages with the SP signing certificate.
  idp = await buildDevIdp({ idp: keys.idp, ...saml, slo: { spCert: keys.spSigning.cert, spSloUrl: `${tokenUrl}/saml/slo` }, defaultUser: { nameId: 'alice@example.com', email: 'alice@example.com', groups: ['employees', 'admins'] } });
  await idp.listen({ host: HOST, port: port.idp });

  const common = { DATABASE_URL: url, HOST, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', SHUTDOWN_DELAY_SECONDS: '0' };
  startService('token-service', 'token-service', {
    ...common,
    PORT: String(port.token),
    METRICS_PORT: String(port.tokenMetrics),
    SAML_IDP_CERT: keys.idp.cert,
    SAML_IDP_ISSUER: saml.issuer,
    SAML_IDP_SSO_URL: `${idpUrl}/sso`,
    SAML_SP_ENTITY_ID: saml.spEntityId,
    SAML_ACS_URL: saml.acsUrl,
    SAML_SP_SIGNING_KEY: keys.spSigning.key,
    SAML_SP_SIGNING_CERT: keys.spSigning.cert,
    SAML_IDP_SLO_URL: `${idpUrl}/slo`,
    JWT_PRIVATE_KEY: keys.jwtPrivateKey,
    JWT_ISSUER: tokenUrl,
    JWT_AUDIENCE: 'saml-authz-dev',
    // Secure cookies (the default, and the __Host- login-state cookie) are accepted from http://127.0.0.1
    // by Chromium and Firefox; the dev IdP's tile signs in without a request.
    SAML_ALLOW_IDP_INITIATED: 'true',
    ALLOWED_RETURN_URLS: `${base}:${port.demo}/,http://localhost:${port.demo}/,${tokenUrl}/`, // npm run demo's NGINX
  });
  await waitReady(`${tokenUrl}/readyz`, 120_000);
  startService('authz-service', 'authz-service', {
    ...common,
    PORT: String(port.authz),
    METRICS_PORT: String(port.authzMetrics),
    FRONT_END: 'nginx',
    POLICY_FILE: join(ROOT, 'examples', 'policy.yaml'),
    JWKS_URL: `${tokenUrl}/.well-known/jwks.json`,
    JWT_ISSUER: tokenUrl,
    JWT_AUDIENCE: 'saml-authz-dev',
  });
  await waitReady(`${base}:${port.authz}/readyz`, 120_000);

  const database = pgServer
    ? `embedded Postgres on ${HOST}:${pgServer.port}, data in ${pgServer.dataDir}`
    : `from DATABASE_URL (${redactUrl(url)})`;
  say(banner({ host: HOST, ports: port, database, databaseUrl: pgServer ? url : undefined }));
}

main().catch(fail);
