/**
 * Bench 2: a real NGINX (one worker, upstream keep-alive, access log off) on the server core with three
 * listeners, all proxying to the same bare Fastify upstream: one protects `/` with `auth_request` to
 * the authz-service (the README's configuration), one with the same `auth_request` block to a
 * do-nothing auth service (a second bare Fastify route answering 200: the ceiling any auth service
 * behind this NGINX can reach, and the baseline of the verdict), one without `auth_request` at all
 * (informative). Interleaved rounds; the CPU per request counts NGINX, the upstream and the auth
 * service together. Then the p99 at a fixed offered rate (half of what the do-nothing side sustained,
 * open loop: test/bench/lib/paced.ts), five pairs of 3 s passes on the two `auth_request` listeners in
 * alternating order, the verdict being the median pair's ratio.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { freePort } from '../../../services/shared/embedded-postgres.js';
import type { BenchContext } from '../lib/context.js';
import { fmt, interleave, median, pairedCapacity, pairedRatio, type Target } from '../lib/load.js';
import { pacedLatency, type PacedResult } from '../lib/paced.js';
import { SERVER_CORE, spawnPinned, waitForHttp } from '../lib/proc.js';
import type { CaseResult } from '../lib/report.js';
import { CONNECTIONS } from './hot.js';

function nginxConf(dir: string, ports: { protectedPort: number; ceilingPort: number; openPort: number; upstream: number; authz: number; nullAuth: number }): string {
  return `${userInfo().uid === 0 ? 'user root;\n' : ''}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:${ports.upstream}; keepalive 64; }
  upstream authz { server 127.0.0.1:${ports.authz}; keepalive 64; }
  upstream nullauth { server 127.0.0.1:${ports.nullAuth}; keepalive 64; }
  proxy_http_version 1.1;
${protectedServer(ports.protectedPort, 'authz')}${protectedServer(ports.ceilingPort, 'nullauth')}  server {
    listen 127.0.0.1:${ports.openPort};
    location / {
      proxy_set_header Connection "";
      proxy_pass http://app;
    }
  }
}
`;
}

/** The README's `auth_request` block, asking `auth` (an upstream name) about every request. */
function protectedServer(port: number, auth: string): string {
  return `  server {
    listen 127.0.0.1:${port};
    location = /_auth {
      internal;
      proxy_pass              http://${auth}/auth;
      proxy_pass_request_body off;
      proxy_set_header        Connection "";
      proxy_set_header        Content-Length "";
      proxy_set_header        Host              $host;
      proxy_set_header        X-Original-URI    $request_uri;
      proxy_set_header        X-Original-Method $request_method;
      proxy_set_header        X-Real-IP         $remote_addr;
    }
    location / {
      auth_request     /_auth;
      auth_request_set $auth_user   $upstream_http_x_auth_request_user;
      auth_request_set $auth_email  $upstream_http_x_auth_request_email;
      auth_request_set $auth_groups $upstream_http_x_auth_request_groups;
      proxy_set_header Connection "";
      proxy_set_header X-Auth-Request-User   $auth_user;
      proxy_set_header X-Auth-Request-Email  $auth_email;
      proxy_set_header X-Auth-Request-Groups $auth_groups;
      proxy_pass http://app;
    }
  }
`;
}

const split = (us: number[]) => us.map((u) => `${fmt(u, 0)}`).join(' / ') + ' µs';

export async function throughNginx(ctx: BenchContext): Promise<CaseResult> {
  const nginx = execFileSync('sh', ['-c', 'command -v nginx || ls /usr/sbin/nginx'], { encoding: 'utf8' }).trim();
  const [live] = await ctx.mintTokens(1);
  const headers = { authorization: `Bearer ${live!.token}`, host: 'app.example.com' };
  const upstream = await ctx.startBaseline('bare');
  const nullAuth = await ctx.startBaseline('bare'); // the do-nothing auth service: 200 for /auth
  const authz = await ctx.startAuthz('authz-nginx', { TRUSTED_PROXIES: '127.0.0.1/32' });
  const dir = join(ctx.dir, 'nginx');
  await mkdir(dir, { recursive: true });
  const ports = { protectedPort: await freePort(), ceilingPort: await freePort(), openPort: await freePort(), upstream: upstream.port, authz: authz.port, nullAuth: nullAuth.port };
  await writeFile(join(dir, 'nginx.conf'), nginxConf(dir, ports));
  const proc = spawnPinned(SERVER_CORE, nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {}, join(dir, 'stdout.log'));
  ctx.track(proc);
  await waitForHttp(`http://127.0.0.1:${ports.openPort}/`);
  for (const port of [ports.protectedPort, ports.ceilingPort]) {
    const probe = await fetch(`http://127.0.0.1:${port}/app/home`, { headers });
    if (probe.status !== 200) throw new Error(`NGINX with auth_request (port ${port}) answered ${probe.status}, expected 200`);
  }
  const denied = await fetch(`http://127.0.0.1:${ports.protectedPort}/app/home`);
  if (denied.status !== 401) throw new Error(`NGINX without a token answered ${denied.status}, expected 401`);

  // The CPU of every process that could serve: NGINX, the application, the auth service asked (the
  // other auth service idles, and counts ~0).
  const pids = () => [proc.pid, upstream.proc.pid, authz.proc.pid, nullAuth.proc.pid];
  const target = (name: string, port: number): Target => ({ name, pids, load: { url: `http://127.0.0.1:${port}/app/home`, connections: CONNECTIONS, headers } });
  const [ceiling, auth, open] = await interleave(
    [target('NGINX auth_request → do-nothing auth, → bare', ports.ceilingPort), target('NGINX auth_request → authz, → bare', ports.protectedPort), target('NGINX → bare (no auth_request)', ports.openPort)],
    { rounds: ctx.quick ? 2 : 12, seconds: 3, warmupSeconds: 2 },
    ctx.log,
  );
  const ratio = pairedRatio(auth!, ceiling!);
  const capacity = pairedCapacity(auth!, ceiling!);
  const openCapacity = pairedCapacity(auth!, open!);

  // p99 below saturation: half of what the do-nothing side sustained, the same schedule to both sides.
  const rate = Math.max(100, Math.round(ceiling!.rps / 2 / 100) * 100);
  const paced: { ceiling: PacedResult[]; authz: PacedResult[] } = { ceiling: [], authz: [] };
  // Pairs of short passes, in alternating order; the verdict is the median pair's ratio, so a spell in
  // which this VM runs at half speed (the offered rate is then near saturation) spoils one pair, not the figure.
  const pace = (port: number) => pacedLatency(`http://127.0.0.1:${port}/app/home`, headers, { rate, seconds: 3, connections: CONNECTIONS });
  const sides = [[paced.ceiling, ports.ceilingPort], [paced.authz, ports.protectedPort]] as const;
  for (let i = 0; i < (ctx.quick ? 1 : 5); i++) {
    for (const [passes, port] of i % 2 === 0 ? sides : [...sides].reverse()) passes.push(await pace(port));
  }
  if ([...paced.ceiling, ...paced.authz].some((p) => p.failed > 0)) throw new Error('paced requests through NGINX failed');
  const p99Authz = median(paced.authz.map((p) => p.p99Ms));
  const p99Ceiling = median(paced.ceiling.map((p) => p.p99Ms));
  const p99Ratio = median(paced.authz.map((p, i) => p.p99Ms / paced.ceiling[i]!.p99Ms));
  ctx.log(`  open loop at ${rate} req/s through NGINX: p99 authz ${fmt(p99Authz)} ms, do-nothing auth ${fmt(p99Ceiling)} ms`);
  return {
    id: '2',
    title: 'through NGINX auth_request → authz vs → a do-nothing auth service',
    rows: [
      { bench: '2', measure: 'CPU per request, NGINX + upstream + auth service (capacity ratio = do-nothing ÷ authz)', value: `${fmt(auth!.cpuUsPerRequest, 1)} µs`, baseline: `${fmt(ceiling!.cpuUsPerRequest, 1)} µs`, ratio: fmt(capacity), target: '≥ 0.90', met: capacity >= 0.9 },
      { bench: '2', measure: 'CPU split: NGINX / upstream / authz / do-nothing auth', value: split(auth!.cpuUsByRoot), baseline: split(ceiling!.cpuUsByRoot), ratio: '', target: '', met: null },
      { bench: '2', measure: `throughput, ${CONNECTIONS} connections`, value: `${fmt(auth!.rps, 0)} req/s`, baseline: `${fmt(ceiling!.rps, 0)} req/s`, ratio: fmt(ratio), target: '(informative)', met: null },
      { bench: '2', measure: `p99 latency, ${rate} req/s offered (half the do-nothing side's throughput), open loop`, value: `${fmt(p99Authz)} ms`, baseline: `${fmt(p99Ceiling)} ms`, ratio: fmt(p99Ratio), target: '≤ 1.5', met: p99Ratio <= 1.5 },
      { bench: '2', measure: 'p99 latency, saturated', value: `${fmt(auth!.p99Ms, 1)} ms`, baseline: `${fmt(ceiling!.p99Ms, 1)} ms`, ratio: fmt(auth!.p99Ms / ceiling!.p99Ms), target: '', met: null },
      { bench: '2', measure: 'CPU per request vs NGINX without auth_request (capacity ratio)', value: `${fmt(auth!.cpuUsPerRequest, 1)} µs`, baseline: `${fmt(open!.cpuUsPerRequest, 1)} µs, ${fmt(open!.rps, 0)} req/s`, ratio: fmt(openCapacity), target: '(informative)', met: null },
    ],
    data: { ceiling, authRequest: auth, open, ratio, capacity, openCapacity, paced, pacedRate: rate },
  };
}
