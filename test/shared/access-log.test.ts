import { PassThrough } from 'node:stream';
import t from 'tap';
import Fastify from 'fastify';
import fp from 'fastify-plugin';
import { pino } from 'pino';
import accessLog, { durationJson } from '../../services/shared/access-log.js';
import { REDACT_PATHS } from '../../services/shared/logging.js';

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
