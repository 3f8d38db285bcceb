import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync } from 'node:fs';
import { chmod, cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { basename, dirname, join } from 'node:path';

/**
 * Embedded Postgres as root (development and tests only): Postgres refuses to run as root, so it runs
 * as the `postgres` system user (created when missing), and what that user needs must be reachable by
 * it — when the repository sits in a folder only root can enter, binaries and data go to a folder under
 * `home` (REACHABLE_HOME in embedded-postgres.ts).
 */
export class EmbeddedPgError extends Error {
  override name = 'EmbeddedPgError';
}

const USER = 'postgres';

export interface Ids {
  uid: number;
  gid: number;
}

/** As root: the postgres system user's ids, creating the user when it is missing. */
export function postgresUser(): Ids {
  const ids = (): Ids => ({ uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' })) });
  try {
    return ids();
  } catch {
    /* not there yet */
  }
  try {
    execFileSync('groupadd', ['--system', USER], { stdio: 'ignore' });
  } catch {
    /* the group may exist already; useradd says if it cannot go on */
  }
  try {
    execFileSync('useradd', ['--system', '--gid', USER, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', USER], { stdio: 'pipe' });
    return ids();
  } catch (err) {
    try {
      return ids(); // created meanwhile by a parallel process
    } catch {
      /* really missing */
    }
    throw new EmbeddedPgError(`Postgres cannot run as root and creating the "${USER}" system user failed (${oneLine(err)}): create it (useradd --system ${USER}) or run as another user`);
  }
}

/** Whether `path` is readable and enterable/executable by the user, judged by that user's own shell. */
function reachable(ids: Ids, path: string): boolean {
  return spawnSync('/bin/sh', ['-c', 'test -r "$1" && test -x "$1"', 'sh', path], { ...ids, stdio: 'ignore' }).status === 0;
}

/** A root-owned folder (not a symlink) others can enter. */
async function rootFolder(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o755 });
  const st = lstatSync(path);
  if (!st.isDirectory() || st.uid !== 0) throw new EmbeddedPgError(`${path} must be a folder owned by root (it is not): remove it and try again`);
  await chmod(path, 0o755);
}

/** As root: the native folder itself when the postgres user can run it, else a copy in `home`. */
export async function reachableNative(ids: Ids, nativeDir: string, version: string, home: string): Promise<string> {
  if (reachable(ids, join(nativeDir, 'bin', 'postgres'))) return nativeDir;
  await rootFolder(home);
  const copy = join(home, `postgres-${version}-${platform()}-${arch()}`);
  if (!existsSync(join(copy, '.complete'))) {
    const tmp = `${copy}.tmp-${process.pid}`;
    try {
      await rm(tmp, { recursive: true, force: true });
      await cp(nativeDir, tmp, { recursive: true, verbatimSymlinks: true });
      await writeFile(join(tmp, '.complete'), `${nativeDir}\n`);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw new EmbeddedPgError(`cannot copy the Postgres binaries from ${nativeDir} to ${copy}: ${oneLine(err)}`);
    }
    // Parallel test processes may copy at once: the first rename wins, the others use its copy (a copy
    // in use is never removed).
    await rename(tmp, copy).catch(() => rm(tmp, { recursive: true, force: true }));
    if (!existsSync(join(copy, '.complete'))) throw new EmbeddedPgError(`${copy} is incomplete: remove it and try again`);
  }
  if (!reachable(ids, join(copy, 'bin', 'postgres'))) throw new EmbeddedPgError(`the ${USER} user cannot run ${copy}/bin/postgres`);
  return copy;
}

/** As root: the data folder, relocated into `home` when the postgres user cannot reach its parent. */
export async function reachableDataDir(ids: Ids, dataDir: string, home: string): Promise<string> {
  await mkdir(dirname(dataDir), { recursive: true });
  if (reachable(ids, dirname(dataDir))) return dataDir;
  await rootFolder(home);
  await rootFolder(join(home, 'data'));
  return join(home, 'data', `${basename(dataDir)}-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`);
}

export const oneLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
