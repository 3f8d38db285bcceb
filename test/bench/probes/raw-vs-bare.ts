// Probe (see README.md): what Fastify itself costs. Node's http answering 200, the bare Fastify route
// (bench 1's baseline) and the authz-service's /auth, same token headers, same rounds.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { interleave } from '../lib/load.js';
import { log, root } from './old-and-new.js';
import { authHeaders, BenchContext } from '../lib/context.js';
import { LOAD_CORE, pin } from '../lib/proc.js';

const RAW_SERVER = `import http from 'node:http';
const s = http.createServer((req, res) => { res.writeHead(200, ['content-length', '0']); res.end(); });
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
  const bare = await ctx.startBaseline('bare');
  const authz = await ctx.startAuthz('authz');
  const t = (name: string, s: typeof bare, path: string) => ({ name, pids: () => [s.proc.pid], load: { url: `${s.url}${path}`, connections: 50, headers } });
  const sums = await interleave([t('node:http', raw, '/app/home'), t('bare Fastify', bare, '/app/home'), t('authz /auth', authz, '/auth')], { rounds: Number(process.argv[2] ?? 6), seconds: Number(process.argv[3] ?? 3), warmupSeconds: 2 }, log);
  for (const s of sums) log(`${s.target}: ${s.cpuUsPerRequest.toFixed(1)} µs/req, ${s.rps.toFixed(0)} req/s`);
} finally {
  await ctx.close();
}
