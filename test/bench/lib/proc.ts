/**
 * Processes under measurement: spawned pinned to a core (`taskset`), their CPU time and RSS read from
 * /proc, stopped by their own pid only. Servers log to a file (as a container runtime would collect
 * stdout) so nothing on the load-generator core drains a pipe.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The server core and the load-generator core. */
export const SERVER_CORE = '0';
export const LOAD_CORE = '1';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export interface Spawned {
  child: ChildProcess;
  pid: number;
  logFile: string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

/**
 * Starts `command args` pinned to `core`, stdout and stderr appended to `logFile` through a pipe, as a
 * container runtime collects them (`BENCH_STDOUT=file`: straight into the file, as before 2026-12-05).
 */
export function spawnPinned(core: string, command: string, args: string[], env: Record<string, string>, logFile: string): Spawned {
  const fd = process.env.BENCH_STDOUT === 'file' ? openSync(logFile, 'a') : drainedPipe(logFile);
  const child = spawn('taskset', ['-c', core, command, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stopping: Promise<void> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    })());
  return { child, pid: child.pid, logFile, exited, stop };
}

/** Pins an already running process (every thread) to `core`. */
export function pin(pid: number, core: string): void {
  execFileSync('taskset', ['-a', '-cp', core, String(pid)], { stdio: 'ignore' });
}

/** Waits for a JSON log line that has every key in `keys`; returns it. */
export async function waitForLogLine(s: Spawned, keys: string[], timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const line of readFileSync(s.logFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (keys.every((k) => k in parsed)) return parsed;
      } catch {
        /* a partial line */
      }
    }
    if (s.child.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`no log line with ${keys.join(', ')} in ${s.logFile}:\n${readFileSync(s.logFile, 'utf8').slice(-2000)}`);
}

/** Waits until `url` answers (any status). */
export async function waitForHttp(url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${url} did not answer: ${(err as Error).message}`);
      await sleep(50);
    }
  }
}

/**
 * A /proc `stat` file (a process's, or a thread's under task/): its command name, the fields after it
 * (the name may contain spaces: they start at ") "; `fields[0]` is the state, field 3), its user and
 * system CPU seconds (fields 14 and 15), and those of the children it has reaped (fields 16 and 17).
 */
export function procStat(path: string): { name: string; fields: string[]; userSeconds: number; systemSeconds: number; reapedSeconds: number } {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    fields,
    userSeconds: Number(fields[11]) / CLK_TCK,
    systemSeconds: Number(fields[12]) / CLK_TCK,
    reapedSeconds: (Number(fields[13]) + Number(fields[14])) / CLK_TCK,
  };
}

/** The process and its descendants (NGINX workers, Postgres backends). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/**
 * CPU seconds of a set of process trees, the exited members' included: each live process's own time
 * and the time of the children it has reaped (where a Postgres backend's or an autovacuum worker's time
 * goes when it exits). Counting live processes alone, a backend that exited between two readings took
 * its time out of the difference (bench 6 once read -50 µs of Postgres CPU per sign-in).
 */
export function treeCpuSeconds(roots: readonly number[]): number {
  let total = 0;
  for (const root of roots) {
    for (const pid of processTree(root)) {
      try {
        const { userSeconds, systemSeconds, reapedSeconds } = procStat(`/proc/${pid}/stat`);
        total += userSeconds + systemSeconds + reapedSeconds;
      } catch {
        /* exited, not yet reaped: counted once its parent waits for it */
      }
    }
  }
  return total;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * stdout as a container runtime gives it: a pipe, read on the load core by a process that is not the
 * server's child (as containerd's shim is not the pod's), appending to `logFile`. Returns the write end.
 */
function drainedPipe(logFile: string): number {
  const fifo = `${logFile}.fifo`;
  execFileSync('mkfifo', [fifo]);
  const reader = spawn('taskset', ['-c', LOAD_CORE, 'sh', '-c', 'exec cat "$0" >> "$1"', fifo, logFile], { stdio: 'ignore', detached: true });
  reader.unref();
  return openSync(fifo, 'w');
}
