import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import fc from 'fast-check';
import Fastify from 'fastify';
import fp from 'fastify-plugin';
import { pino } from 'pino';
import accessLog, { accessLineWriter, durationJson } from '../../services/shared/access-log.js';
import { BatchedLines, REDACT_PATHS } from '../../services/shared/logging.js';

/** An app with the access-log plugin, a stand-in metrics plugin, and the lines it writes. */
async function appWithLines(logLevel: 'info' | 'warn' = 'info') {
  const lines: string[] = [];
  const observed: string[] = [];
  const app = Fastify();
  await app.register(fp(async (a) => void a.decorate('observeHttp', (route: string, method: string, status: number) => void observed.push(`${method} ${route} ${status}`)), { name: 'metrics' }));
  await app.register(accessLog, { level: 'info', logLevel, sink: { write: (line: string) => void lines.push(line) } });
  app.get('/x/*', async () => 'ok');
  app.get('/probe', { logLevel: 'warn' }, async () => 'ok');
  return { app, lines, observed };
}

/** What pino writes for the same fields (the services' logger options, the line's own time). */
async function pinoLine(fields: Record<string, unknown>, time: number): Promise<string> {
  const out = new PassThrough();
  let written = '';
  out.on('data', (d: Buffer) => (written += d.toString()));
  pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: () => `,"time":${time}` }, out).info(fields, 'request');
  await new Promise((resolve) => setImmediate(resolve));
  return written;
}

t.test('writes one access line per request, byte for byte what pino writes for the same fields', async (t) => {
  const { app, lines, observed } = await appWithLines();
  const rows = [
    { url: '/x/a?token=secret', path: '/x/a', route: '/x/*', status: 200 },
    { url: '/x/caf%C3%A9%22', path: '/x/caf%C3%A9%22', route: '/x/*', status: 200 },
    { url: '/nowhere', path: '/nowhere', route: 'unmatched', status: 404 },
  ];
  const ids: string[] = [];
  app.addHook('onRequest', async (req) => void ids.push(req.id));
  for (const row of rows) await app.inject({ url: row.url, remoteAddress: '198.51.100.7' });
  t.equal(lines.length, rows.length, 'one line per request');
  for (const [i, row] of rows.entries()) {
    const line = JSON.parse(lines[i]!) as Record<string, unknown>;
    t.same({ path: line.path, route: line.route, status: line.status, remote: line.remote, request_id: line.request_id }, { path: row.path, route: row.route, status: row.status, remote: '198.51.100.7', request_id: ids[i] }, `${row.url}: fields`);
    const expected = await pinoLine({ request_id: line.request_id, method: line.method, route: line.route, path: line.path, status: line.status, duration_ms: line.duration_ms, remote: line.remote }, line.time as number);
    t.equal(lines[i], expected, `${row.url}: the same bytes as pino`);
  }
  t.same(observed, ['GET /x/* 200', 'GET /x/* 200', 'GET unmatched 404'], 'every answer observed in the latency histogram');
});

t.test('escapes a path as JSON.stringify does', async (t) => {
  const { app, lines } = await appWithLines();
  app.addHook('onRequest', async (req) => void (req.raw.url = '/x/a"b\\c\u0001d'));
  await app.inject({ url: '/x/a', remoteAddress: '198.51.100.7' });
  t.match(lines[0], /"path":"\/x\/a\\"b\\\\c\\u0001d"/, 'escaped in the line');
  t.equal((JSON.parse(lines[0]!) as { path: string }).path, '/x/a"b\\c\u0001d', 'and reads back as sent');
});

t.test("a route's own logLevel and LOG_LEVEL silence the line, never the latency observation", async (t) => {
  const quiet = await appWithLines();
  await quiet.app.inject({ url: '/probe' });
  t.equal(quiet.lines.length, 0, 'the probe route (logLevel warn) writes no line');
  t.same(quiet.observed, ['GET /probe 200'], 'and is still observed');
  const warn = await appWithLines('warn');
  await warn.app.inject({ url: '/x/a' });
  t.equal(warn.lines.length, 0, 'LOG_LEVEL=warn: no access line');
  t.same(warn.observed, ['GET /x/* 200']);
});

t.test('sampleAllowed: one line per N allowed answers of the sampled routes together; every other answer its own line', async (t) => {
  const lines: string[] = [];
  const writer = accessLineWriter({ level: 'info', sink: { write: (line: string) => void lines.push(line) }, sampleAllowed: { routes: new Set(['/auth', '/envoy/*']), every: 3 } })!;
  const answers: [route: string, status: number][] = [
    ['/auth', 200], ['/auth', 200], ['/auth', 403], ['/envoy/*', 200], ['/auth', 401], ['/auth', 200],
    ['/healthz', 200], ['/auth', 200], ['/auth', 500], ['/auth', 200], ['/envoy/*', 200], ['/auth', 400],
  ];
  answers.forEach(([route, status], i) => writer.line(`req-${i}`, 'GET', route, route, status, 1, '10.0.0.1'));
  const written = lines.map((l) => JSON.parse(l) as { request_id: string; route: string; status: number });
  t.same(
    written.map((l) => `${l.request_id} ${l.route} ${l.status}`),
    ['req-0 /auth 200', 'req-2 /auth 403', 'req-4 /auth 401', 'req-5 /auth 200', 'req-6 /healthz 200', 'req-8 /auth 500', 'req-10 /envoy/* 200', 'req-11 /auth 400'],
    'the 1st, 4th and 7th allowed decisions, across both routes; every refusal, error and other route',
  );
  const every = accessLineWriter({ level: 'info', sink: { write: (line: string) => void lines.push(line) }, sampleAllowed: { routes: new Set(['/auth']), every: 1 } })!;
  lines.length = 0;
  for (let i = 0; i < 5; i++) every.line(`req-${i}`, 'GET', '/auth', '/auth', 200, 1, undefined);
  t.equal(lines.length, 5, 'every: 1 writes every allowed answer');
});

t.test('duration_ms: the integer formatting writes what JSON.stringify writes for the rounded number', async (t) => {
  const json = (ms: number) => JSON.stringify(Math.round(ms * 100) / 100);
  let wrong = 0;
  for (let h = 0; h <= 2_000_000; h++) if (durationJson(h / 100) !== json(h / 100)) wrong++;
  t.equal(wrong, 0, 'every hundredth from 0 to 20,000 ms');
  const odd = [0.004999, 0.005, 0.0149, 1e-9, 123.456789, 0x3fffffff / 100, 0x40000000 / 100, 1e12, 1e300, -0, -1.5, NaN, Infinity, -Infinity];
  for (let i = 0; i < 10_000; i++) odd.push(Math.random() * 10 ** ((i % 12) - 3));
  for (const ms of odd) if (durationJson(ms) !== json(ms)) t.fail(`${ms}: ${durationJson(ms)} against ${json(ms)}`);
  t.equal(durationJson(NaN), 'null', 'not a number: null, as JSON writes it');
});

/** One access line's fields, as the writer is called with them. */
interface Fields { id: string; method: string; route: string; url: string; status: number; ms: number; remote: string | undefined }

/** The line for these fields as JSON.stringify writes each value (the oracle), at the line's own time. */
function expectedLine(f: Fields, time: string): string {
  const q = f.url.indexOf('?');
  const path = q < 0 ? f.url : f.url.slice(0, q);
  const remote = f.remote === undefined ? '' : `,"remote":${JSON.stringify(f.remote)}`;
  return `{"level":30,"time":${time},"pid":${process.pid},"hostname":${JSON.stringify(hostname())},"request_id":${JSON.stringify(f.id)},"method":${JSON.stringify(f.method)},"route":${JSON.stringify(f.route)},"path":${JSON.stringify(path)},"status":${f.status},"duration_ms":${JSON.stringify(Math.round(f.ms * 100) / 100)}${remote},"msg":"request"}\n`;
}

/** Writes each field set through a batch buffer into a file; the lines, and how many went as strings. */
function throughBatchBuffer(rows: readonly Fields[], bufferBytes: number): { lines: string[]; strings: number } {
  const dir = mkdtempSync(join(tmpdir(), 'access-line-'));
  const file = join(dir, 'lines');
  const fd = openSync(file, 'w');
  try {
    const sink = new BatchedLines(fd, bufferBytes);
    let strings = 0;
    const write = sink.write.bind(sink);
    sink.write = (line) => void (strings++, write(line));
    const { line } = accessLineWriter({ level: 'info', sink })!;
    for (const f of rows) line(f.id, f.method, f.route, f.url, f.status, f.ms, f.remote);
    sink.flush();
    const lines = readFileSync(file, 'utf8').split(/(?<=\n)/);
    return { lines, strings };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

const timeOf = (line: string | undefined) => /^\{"level":30,"time":(\d+),/.exec(line ?? '')?.[1] ?? 'none';

t.test('a plain line is encoded straight into the batch buffer, byte for byte what JSON.stringify writes', async (t) => {
  const rows: Fields[] = [
    { id: 'AbC-12_x.y:z', method: 'GET', route: '/auth', url: '/auth', status: 200, ms: 0.734, remote: '127.0.0.1' },
    { id: 'r-1', method: 'POST', route: '/saml/acs', url: '/saml/acs?RelayState=a%20b', status: 303, ms: 12, remote: '::ffff:10.0.0.1' },
    { id: 'r-2', method: 'GET', route: 'unmatched', url: '/x', status: 404, ms: 1234.5, remote: undefined },
    { id: 'r-3', method: 'GET', route: '/auth', url: '/auth?', status: 401, ms: 0, remote: '2001:db8::1' },
  ];
  const { lines, strings } = throughBatchBuffer(rows, 4096);
  t.equal(strings, 0, 'no line went through the string form');
  t.equal(lines.length, rows.length);
  rows.forEach((f, i) => t.equal(lines[i], expectedLine(f, timeOf(lines[i])), `${f.url}: the same bytes`));
});

t.test('a field that needs escaping or UTF-8, or a line longer than the buffer, goes out as the string form, in order', async (t) => {
  const plainRow: Fields = { id: 'p', method: 'GET', route: '/auth', url: '/auth', status: 200, ms: 1, remote: '127.0.0.1' };
  const rows: Fields[] = [
    plainRow,
    { ...plainRow, url: '/caf\u00e9' },
    { ...plainRow, url: '/a"b' },
    { ...plainRow, url: '/a\\b' },
    { ...plainRow, remote: 'x\u0001' },
    { ...plainRow, url: `/${'x'.repeat(300)}` },
    plainRow,
  ];
  const { lines, strings } = throughBatchBuffer(rows, 256);
  t.equal(strings, 5, 'the five lines that are not plain or do not fit');
  rows.forEach((f, i) => t.equal(lines[i], expectedLine(f, timeOf(lines[i])), `line ${i}`));
});

t.test('any fields: the batch buffer holds what JSON.stringify writes (property)', async (t) => {
  const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.stringMatching(/^[\x20-\x7e]{0,40}$/));
  const fields = fc.record({
    id: text,
    method: fc.constantFrom('GET', 'POST', 'PROPFIND', 'M"'),
    route: fc.constantFrom('/auth', '/x/*', 'unmatched'),
    url: fc.tuple(text, fc.option(text)).map(([p, q]) => `/${p}${q === null ? '' : `?${q}`}`),
    status: fc.integer({ min: 100, max: 599 }),
    ms: fc.oneof(fc.double({ min: 0, max: 1e7, noNaN: true }), fc.integer({ min: 0, max: 100_000 }).map((h) => h / 100)),
    remote: fc.option(text, { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(fields, { minLength: 1, maxLength: 30 }), fc.constantFrom(256, 4096), (rows, bytes) => {
      const { lines } = throughBatchBuffer(rows, bytes);
      return lines.length === rows.length && rows.every((f, i) => lines[i] === expectedLine(f, timeOf(lines[i])));
    }),
    { numRuns: 300 },
  );
  t.pass('300 sets of up to 30 lines');
});
