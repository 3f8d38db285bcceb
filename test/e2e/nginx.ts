/**
 * A real NGINX for the end-to-end suite and the demo: found on PATH (or /usr/sbin), run in the
 * foreground as its own process with every path (pid, logs, temp folders) inside a temporary prefix,
 * listening on loopback only. The site configurations live in examples/nginx/*.conf.template and are
 * rendered here by substituting `${NAME}` placeholders (the convention of the official nginx image's
 * envsubst templates); NGINX's own `$variables` are left alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const TEMPLATES = join(ROOT, 'examples', 'nginx');

/** The shipped configurations. */
export const CONFIGS = {
  'auth-request': join(TEMPLATES, 'auth-request.conf.template'),
  'ingress-nginx': join(TEMPLATES, 'ingress-nginx.conf.template'),
} as const;
export type ConfigName = keyof typeof CONFIGS;

/** Dynamic modules a configuration needs, as Debian packages them (the ingress-nginx image builds them in). */
const MODULE_DIRS = ['/usr/lib/nginx/modules', '/usr/share/nginx/modules', '/usr/lib64/nginx/modules'];
export const SET_MISC_MODULES = ['ndk_http_module.so', 'ngx_http_set_misc_module.so'];

/** The nginx binary (NGINX_BINARY when set, else PATH, /usr/sbin, …), or null. */
export function findNginx(): string | null {
  const given = process.env.NGINX_BINARY;
  if (given !== undefined) return existsSync(given) ? given : null;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'nginx');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** `nginx/1.22.1` (what `nginx -v` prints, on stderr). */
export function nginxVersion(binary: string): string {
  const r = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return `${r.stderr}${r.stdout}`.trim().replace(/^nginx version: /, '');
}

/** Absolute paths of the given module files, or null when one is missing. */
export function findModules(files: readonly string[]): string[] | null {
  const found: string[] = [];
  for (const file of files) {
    const dir = MODULE_DIRS.find((d) => existsSync(join(d, file)));
    if (dir === undefined) return null;
    found.push(join(dir, file));
  }
  return found;
}

/** A free TCP port on the address (bind to 0, release). Callers retry when a race loses it. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const PLACEHOLDER = /\$\{([A-Z][A-Z0-9_]*)\}/g;

/**
 * Substitutes every `${NAME}`. Outside comments a placeholder without a value is an error (no silent
 * empty strings); in a comment it is left as written (the header documents the placeholders).
 */
export function render(template: string, values: Readonly<Record<string, string>>): string {
  const missing = new Set<string>();
  const out = template
    .split('\n')
    .map((line) => {
      const comment = line.trimStart().startsWith('#');
      return line.replace(PLACEHOLDER, (whole, name: string) => {
        const v = values[name];
        if (v === undefined && !comment) missing.add(name);
        return v ?? whole;
      });
    })
    .join('\n');
  if (missing.size > 0) throw new Error(`no value for ${[...missing].map((m) => `\${${m}}`).join(', ')}`);
  return out;
}

/**
 * ingress-nginx's name for the internal sign-in location: `@` + sha1(location path + auth-signin URL)
 * (buildAuthSignURLLocation in internal/ingress/controller/template/template.go).
 */
export function ingressSigninLocation(locationPath: string, signinUrl: string): string {
  return `@${createHash('sha1').update(locationPath).update(signinUrl).digest('hex')}`;
}

/** ingress-nginx's internal auth location for a location path and path type (buildAuthLocation). */
export function ingressAuthLocation(locationPath: string, pathType: 'Prefix' | 'Exact' | 'ImplementationSpecific'): string {
  return `/_external-auth-${Buffer.from(locationPath).toString('base64url').replace(/=/g, '')}-${pathType}`;
}

export interface NginxProcess {
  child: ChildProcess;
  prefix: string;
  /** the rendered site configuration (what the tests parse) */
  site: string;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

export interface StartNginxOptions {
  binary: string;
  /** the rendered site configuration (http context: upstreams and servers) */
  site: string;
  /** the ports the site listens on, to wait for */
  listen: ReadonlyArray<{ host: string; port: number }>;
  modules?: readonly string[];
  /** serve TLS on `listen … ssl` sockets with this certificate and key (PEM) */
  tls?: { cert: string; key: string };
  timeoutMs?: number;
}

/** Starts NGINX in the foreground with its own prefix; resolves once every listen address accepts. */
export async function startNginx(o: StartNginxOptions): Promise<NginxProcess> {
  const prefix = await mkdtemp(join(tmpdir(), 'saml-authz-nginx-'));
  for (const dir of ['logs', 'tmp/client-body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi']) await mkdir(join(prefix, dir), { recursive: true });
  if (o.tls) {
    await writeFile(join(prefix, 'tls.crt'), o.tls.cert);
    await writeFile(join(prefix, 'tls.key'), o.tls.key, { mode: 0o600 });
  }
  const tls = o.tls ? `    ssl_certificate     ${join(prefix, 'tls.crt')};\n    ssl_certificate_key ${join(prefix, 'tls.key')};\n` : '';
  const user = process.getuid?.() === 0 ? 'user root root;\n' : ''; // as root, workers would switch to `nobody` and lose the temp folders
  const main = `# generated by test/e2e/nginx.ts
${(o.modules ?? []).map((m) => `load_module ${m};`).join('\n')}
${user}worker_processes 1;
daemon off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} info;
events { worker_connections 512; }
http {
    access_log ${join(prefix, 'logs', 'access.log')};
    client_body_temp_path ${join(prefix, 'tmp/client-body')};
    proxy_temp_path       ${join(prefix, 'tmp/proxy')};
    fastcgi_temp_path     ${join(prefix, 'tmp/fastcgi')};
    uwsgi_temp_path       ${join(prefix, 'tmp/uwsgi')};
    scgi_temp_path        ${join(prefix, 'tmp/scgi')};
${tls}    include site.conf;
}
`;
  await writeFile(join(prefix, 'site.conf'), o.site);
  await writeFile(join(prefix, 'nginx.conf'), main);
  const child = spawn(o.binary, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'logs', 'error.log')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const errorLog = () => readFile(join(prefix, 'logs', 'error.log'), 'utf8').catch(() => '');
  const stop = async () => {
    if (!gone) {
      child.kill('SIGQUIT'); // graceful: the master waits for its worker
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(prefix, { recursive: true, force: true });
  };

  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  for (const { host, port } of o.listen) {
    for (;;) {
      if (gone) {
        const log = await errorLog();
        await rm(prefix, { recursive: true, force: true });
        throw new Error(`nginx exited at start:\n${stderr}\n${log}`);
      }
      if (await accepts(host, port)) break;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`nginx did not listen on ${host}:${port}:\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { child, prefix, site: o.site, errorLog, stop };
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}
