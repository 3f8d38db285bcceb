// The batched stdout writer of the access lines (logging.ts accessLineSink): every line arrives, whole, in order.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const logging = fileURLToPath(new URL('../../services/shared/logging.ts', import.meta.url));

/** Runs a child that writes through the sink; resolves with its stdout and when each chunk came. */
function child(code: string): Promise<{ out: string; firstChunkMs: number; exitMs: number }> {
  const started = Date.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { accessLineSink } from ${JSON.stringify(logging)};\n${code}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let firstChunkMs = -1;
  proc.stdout.on('data', (chunk: Buffer) => {
    if (firstChunkMs < 0) firstChunkMs = Date.now() - started;
    out += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', () => resolve({ out, firstChunkMs, exitMs: Date.now() - started }));
  });
}

// 32 KiB is the default (LOG_BUFFER_BYTES): a batch larger than PIPE_BUF, which a pipe may take in parts.
// 64 bytes: most lines do not fit the buffer and are written on their own, between batches of those that do.
for (const bytes of [64, 4096, 32768]) {
  t.test(`20,000 lines through a ${bytes}-byte buffer into a pipe: all of them, in order, flushed at exit`, async (t) => {
    const { out } = await child(`const sink = accessLineSink(undefined, ${bytes}); for (let i = 0; i < 20000; i++) sink.write(JSON.stringify({ i, msg: 'request', path: '/é/' + 'x'.repeat(i % 300) }) + '\\n');`);
    const lines = out.split('\n');
    t.equal(lines.pop(), '', 'ends with a whole line');
    t.equal(lines.length, 20000, 'every line');
    t.ok(lines.every((l, i) => (JSON.parse(l) as { i: number }).i === i), 'in order, none split or mangled');
  });
}

t.test('a quiet replica still writes its last lines within about a second', async (t) => {
  const { out, firstChunkMs, exitMs } = await child(`const sink = accessLineSink(undefined, 4096); sink.write('{"msg":"request"}\\n'); setTimeout(() => process.exit(0), 2500);`);
  t.equal(out, '{"msg":"request"}\n');
  t.ok(firstChunkMs < exitMs - 700, `written by the periodic flush (${firstChunkMs} ms), not only at exit (${exitMs} ms)`);
});

t.test('LOG_BUFFER_BYTES=0 writes every line at once', async (t) => {
  const { out, firstChunkMs, exitMs } = await child(`const sink = accessLineSink(undefined, 0); sink.write('{"n":1}\\n'); setTimeout(() => process.exit(0), 1500);`);
  t.equal(out, '{"n":1}\n');
  t.ok(firstChunkMs < exitMs - 700, `written before the first periodic flush (${firstChunkMs} ms of ${exitMs} ms)`);
});
