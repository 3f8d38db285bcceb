import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';

/** Where the suite's service logs are collected for the closing scan (set by test/run.ts). */
export function recordLog(lines: string): void {
  const dir = process.env.TEST_LOG_DIR;
  if (dir && lines) appendFileSync(join(dir, `${process.pid}.log`), lines.endsWith('\n') ? lines : `${lines}\n`);
}

/** Collects every log line an app writes, parsed, so tests can assert on them (and on what is absent). */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    recordLog(chunk.toString('utf8'));
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      this.raw.push(line);
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.lines.push({ unparsed: line });
      }
    }
    done();
  }
  find(pred: (line: Record<string, unknown>) => boolean): Record<string, unknown>[] {
    return this.lines.filter(pred);
  }
}

export const COMMON_TEST_ENV = {
  LOG_LEVEL: 'info',
  HOST: '127.0.0.1',
  PORT: '0',
  METRICS_PORT: '0',
  SHUTDOWN_DELAY_SECONDS: '0',
} as const;
