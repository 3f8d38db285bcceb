import { Writable } from 'node:stream';

/** Collects every log line an app writes, parsed, so tests can assert on them (and on what is absent). */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
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
