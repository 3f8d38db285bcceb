// Probe (see README.md): what Fastify itself costs, and what /auth costs beyond its floor. Node's http
// answering 200; the floor of /auth (Node's http answering as /auth answers an allow — request id,
// identity headers, latency histogram, access line through the services' own writer and sink — with
// no decision); the bare Fastify route (bench 1's baseline); the authz-service's /auth. Same token
// headers, same rounds; needs `npm run build` (the floor imports the writer from dist/).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { interleave, pairedCapacity } from '../lib/load.js';
import { log, root } from './old-and-new.js';
import { authHeaders, BenchContext } from '../lib/context.js';
import { LOAD_CORE, pin } from '../lib/proc.js';

const RAW_SERVER = `import http from 'node:http';
const s = http.createServer((req, res) => { res.writeHead(200, ['content-length', '0']); res.end(); });
s.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(JSON.stringify({ port: s.address().port, metrics_port: 0 })));
process.once('SIGTERM', () => process.exit(0));
`;

/**
 * The floor of /auth: everything an answered allow does except deciding (front-door.ts `send`/`record`),
 * with the services' own histogram and access-line writer and sink (FLOOR_BUFFER: another batch size).
 */
const floorServer = (dist: string) => `import http from 'node:http';
import { Registry } from 'prom-client';
import { accessLineWriter } from '${dist}/shared/access-log.js';
import { FastHistogram } from '${dist}/shared/fast-metrics.js';
import { DEFAULT_LOG_BUFFER_BYTES } from '${dist}/shared/config.js';
import { accessLineSink, requestIdOf } from '${dist}/shared/logging.js';
import { LATENCY_BUCKETS } from '${dist}/shared/metrics.js';
const ok = new FastHistogram(new Registry(), 'http_request_duration_seconds', 'x', LATENCY_BUCKETS).bind({ route: '/auth', method: 'GET', status_class: '2xx' });
const line = accessLineWriter({ level: 'info', logLevel: 'info', sink: accessLineSink(undefined, Number(process.env.FLOOR_BUFFER ?? DEFAULT_LOG_BUFFER_BYTES)) }).line;
const s = http.createServer((req, res) => {
  const started = performance.now();
  const id = requestIdOf(req);
  res.writeHead(200, process.env.FLOOR_NO_IDENTITY ? ['content-length', '0'] : ['content-length', '0', 'x-auth-request-user', 'user0@example.com', 'x-auth-request-email', 'user0@example.com', 'x-auth-request-groups', 'staff']);
  res.end();
  const ms = performance.now() - started;
  ok(ms / 1000);
  if (!process.env.FLOOR_NO_LINE) line(id, req.method, '/auth', req.url, 200, ms, req.socket.remoteAddress);
});
s.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(JSON.stringify({ port: s.address().port, metrics_port: 0 })));
process.once('SIGTERM', () => process.exit(0));
`;

pin(process.pid, LOAD_CORE);
const ctx = await BenchContext.open(root, true, log);
try {
  const [live] = await ctx.mintTokens(1);
  const headers = authHeaders(live!.token);
  const rawFile = join(ctx.dir, 'raw-server.mjs');
  await writeFile(rawFile, RAW_SERVER);
  const raw = await ctx.spawnNode('raw', [rawFile], {});
  const floorFile = join(root, 'bench-results', 'floor-server.mjs'); // beside node_modules: prom-client resolves
  await writeFile(floorFile, floorServer(join(root, 'dist', 'services')));
  const floor = await ctx.spawnNode('floor', [floorFile], {});
  const bare = await ctx.startBaseline('bare');
  const authz = await ctx.startAuthz('authz');
  const t = (name: string, s: typeof bare, path: string) => ({ name, pids: () => [s.proc.pid], load: { url: `${s.url}${path}`, connections: 50, headers } });
  const sums = await interleave([t('node:http', raw, '/app/home'), t('floor of /auth (no decision)', floor, '/auth'), t('bare Fastify', bare, '/app/home'), t('authz /auth', authz, '/auth')], { rounds: Number(process.argv[2] ?? 6), seconds: Number(process.argv[3] ?? 3), warmupSeconds: 2 }, log);
  const bareSum = sums[2]!;
  for (const s of sums) log(`${s.target}: ${s.cpuUsPerRequest.toFixed(1)} µs/req, ${s.rps.toFixed(0)} req/s, capacity ratio to bare Fastify (median of rounds) ${pairedCapacity(s, bareSum).toFixed(2)}`);
} finally {
  await ctx.close();
}
