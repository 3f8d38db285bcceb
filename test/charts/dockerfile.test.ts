import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './render.js';

// No container engine runs here: these read the Dockerfile for the properties the charts rely on.
const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
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
    t.match(s, `ENV METRICS_PORT=${metrics}`);
    t.notMatch(s, /^(ENTRYPOINT|CMD) [^[]/m, `${svc}: no shell form`);
  }
  const runtime = stage('runtime');
  t.match(runtime, /^USER 10001:10001$/m, 'numeric uid:gid');
  t.match(runtime, /^WORKDIR \/app$/m);
  t.match(runtime, /HOST=0\.0\.0\.0/, 'listens on all interfaces in the container');
  t.notMatch(text, /^USER (root|0)\b/m);
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
