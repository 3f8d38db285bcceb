/**
 * Bench 2: a real NGINX (one worker, upstream keep-alive, access log off) on the server core with two
 * listeners: one protects `/` with `auth_request` to the authz-service (the README's configuration),
 * the other proxies straight to the same bare Fastify upstream. Interleaved rounds; the CPU per request
 * counts NGINX, the upstream and the authz-service together.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { freePort } from '../../../services/shared/embedded-postgres.js';
import type { BenchContext } from '../lib/context.js';
import { fmt, interleave, pairedRatio, type Target } from '../lib/load.js';
import { SERVER_CORE, spawnPinned, waitForHttp } from '../lib/proc.js';
import type { CaseResult } from '../lib/report.js';
import { CONNECTIONS } from './hot.js';

function nginxConf(dir: string, ports: { protectedPort: number; openPort: number; upstream: number; authz: number }): string {
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
  proxy_http_version 1.1;
  server {
    listen 127.0.0.1:${ports.protectedPort};
    location = /_auth {
      internal;
      proxy_pass              http://authz/auth;
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
  server {
    listen 127.0.0.1:${ports.openPort};
    location / {
      proxy_set_header Connection "";
      proxy_pass http://app;
    }
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
  const authz = await ctx.startAuthz('authz-nginx', { TRUSTED_PROXIES: '127.0.0.1/32' });
  const dir = join(ctx.dir, 'nginx');
  await mkdir(dir, { recursive: true });
  const ports = { protectedPort: await freePort(), openPort: await freePort(), upstream: upstream.port, authz: authz.port };
  await writeFile(join(dir, 'nginx.conf'), nginxConf(dir, ports));
  const proc = spawnPinned(SERVER_CORE, nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {}, join(dir, 'stdout.log'));
  ctx.track(proc);
  await waitForHttp(`http://127.0.0.1:${ports.openPort}/`);
  const probe = await fetch(`http://127.0.0.1:${ports.protectedPort}/app/home`, { headers });
  if (probe.status !== 200) throw new Error(`NGINX with auth_request answered ${probe.status}, expected 200`);
  const denied = await fetch(`http://127.0.0.1:${ports.protectedPort}/app/home`);
  if (denied.status !== 401) throw new Error(`NGINX without a token answered ${denied.status}, expected 401`);

  const pids = () => [proc.pid, upstream.proc.pid, authz.proc.pid];
  const target = (name: string, port: number): Target => ({ name, pids, load: { url: `http://127.0.0.1:${port}/app/home`, connections: CONNECTIONS, headers } });
  const [base, auth] = await interleave(
    [target('NGINX → bare', ports.openPort), target('NGINX auth_request → authz, → bare', ports.protectedPort)],
    { rounds: ctx.quick ? 2 : 4, seconds: ctx.quick ? 3 : 5, warmupSeconds: 2 },
    ctx.log,
  );
  const ratio = pairedRatio(auth!, base!);
  const capacity = base!.cpuUsPerRequest / auth!.cpuUsPerRequest;
  return {
    id: '2',
    title: 'through NGINX auth_request vs NGINX → bare route',
    rows: [
      { bench: '2', measure: `throughput, ${CONNECTIONS} connections`, value: `${fmt(auth!.rps, 0)} req/s`, baseline: `${fmt(base!.rps, 0)} req/s`, ratio: fmt(ratio), target: '≥ 0.85', met: ratio >= 0.85 },
      { bench: '2', measure: 'p99 latency, saturated', value: `${fmt(auth!.p99Ms, 1)} ms`, baseline: `${fmt(base!.p99Ms, 1)} ms`, ratio: fmt(auth!.p99Ms / base!.p99Ms), target: '', met: null },
      { bench: '2', measure: 'CPU per request, NGINX + upstream + authz (capacity ratio)', value: `${fmt(auth!.cpuUsPerRequest, 1)} µs`, baseline: `${fmt(base!.cpuUsPerRequest, 1)} µs`, ratio: fmt(capacity), target: '≥ 0.85', met: capacity >= 0.85 },
      { bench: '2', measure: 'CPU split: NGINX / upstream / authz', value: split(auth!.cpuUsByRoot), baseline: split(base!.cpuUsByRoot), ratio: '', target: '', met: null },
    ],
    data: { baseline: base, authRequest: auth, ratio, capacity },
  };
}
