import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { recordLog } from './app.js';

export interface ServiceProcess {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  logs: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a service the way operators do: its entry point, configured only by environment variables.
 * Resolves once it logs that it listens (with the ports it got), rejects if it exits first.
 */
export function startServiceProcess(entry: string, env: Record<string, string>, timeoutMs = 30_000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  createInterface({ input: child.stderr! }).on('line', (l) => {
    stderr.push(l);
    recordLog(l);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not listen within ${timeoutMs} ms: ${stderr.join('\n')}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      recordLog(line);
      try {
        const parsed = JSON.parse(line) as { port?: number; metrics_port?: number };
        if (parsed.port !== undefined && parsed.metrics_port !== undefined) {
          clearTimeout(timer);
          resolve({ child, port: parsed.port, metricsPort: parsed.metrics_port, logs, stderr, exited });
        }
      } catch {
        /* not JSON: keep it in logs */
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code}: ${stderr.join('\n')}`));
    });
  });
}

/** Runs an entry point to completion and returns its exit code and output. */
export function runToExit(entry: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
