import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** `.dev/npm-start.pid`: one `npm start` per state folder; a second one says which process runs. */
export interface StartLock {
  release(): Promise<void>;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('services/dev/start');
  } catch {
    return true; // no /proc: trust the signal check
  }
}

export async function takeStartLock(state: string): Promise<StartLock> {
  await mkdir(state, { recursive: true });
  const file = join(state, 'npm-start.pid');
  let held: number | undefined;
  try {
    held = Number(readFileSync(file, 'utf8').trim());
  } catch {
    /* no lock */
  }
  if (held && held !== process.pid && running(held)) {
    throw new Error(`npm start is already running (pid ${held}, state in ${state}): use it, or stop it first (Ctrl-C in its terminal, or kill ${held})`);
  }
  await writeFile(file, `${process.pid}\n`);
  return {
    async release() {
      try {
        if (Number(readFileSync(file, 'utf8').trim()) === process.pid) await rm(file, { force: true });
      } catch {
        /* already gone */
      }
    },
  };
}
