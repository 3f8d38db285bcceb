import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { helmBinary } from './helm.js';
import { one, render, template, type RenderOptions } from './render.js';
import { makeSecretFiles, minimalRenders } from './fixtures.js';
import { container, podSpec } from './pod-asserts.js';
import { CHART_NODE_OPTIONS, heapSizing } from '../bench/cases/memory.js';

// nodeHeap (charts/saml-authz-common/templates/_nodeheap.tpl): NODE_OPTIONS sized from the container's
// memory limit, the operator's own NODE_OPTIONS winning, and the refusals, in both charts.
t.before(() => void helmBinary());
const secrets = await makeSecretFiles();
t.teardown(() => secrets.cleanup());

const { token, authz } = minimalRenders(secrets);
const charts: Array<[string, RenderOptions, string]> = [['authz-service', authz, '384Mi'], ['token-service', token, '256Mi']];
const plus = (o: RenderOptions, set: Record<string, string>): RenderOptions => ({ ...o, set: { ...o.set, ...set } });
let n = 0;
const withValues = (o: RenderOptions, v: unknown): RenderOptions => {
  const file = join(secrets.dir, `node-heap-${n++}.yaml`);
  writeFileSync(file, stringify(v));
  return { ...o, values: [file] };
};
const env = (chart: string, o: RenderOptions) => container(podSpec(one(render(chart, o), 'Deployment')), chart).env ?? [];
const nodeOptions = (chart: string, o: RenderOptions) => env(chart, o).filter((e) => e.name === 'NODE_OPTIONS');

t.test('the default limits render NODE_OPTIONS: authz-service 384Mi → 192, token-service 256Mi → 128, semi-space 8', async (t) => {
  t.same(nodeOptions('authz-service', authz), [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=192 --max-semi-space-size=8' }]);
  t.same(nodeOptions('token-service', token), [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=128 --max-semi-space-size=8' }]);
  for (const [chart, o] of charts) {
    const names = env(chart, o).map((e) => e.name);
    t.ok(names.indexOf('NODE_OPTIONS') > names.indexOf('DATABASE_URL_FILE'), `${chart}: after the *_FILE variables`);
  }
});

t.test('other limits, percentages and semi-spaces', async (t) => {
  const rows: Array<[string, Record<string, unknown>, string]> = [
    ['1Gi', { resources: { limits: { memory: '1Gi' } } }, '--max-old-space-size=512 --max-semi-space-size=8'],
    ['1.5Gi', { resources: { limits: { memory: '1.5Gi' } } }, '--max-old-space-size=768 --max-semi-space-size=8'],
    ['512M (decimal: 488.3 MiB)', { resources: { limits: { memory: '512M' } } }, '--max-old-space-size=244 --max-semi-space-size=8'],
    ['1G', { resources: { limits: { memory: '1G' } } }, '--max-old-space-size=476 --max-semi-space-size=8'],
    ['393216Ki', { resources: { limits: { memory: '393216Ki' } } }, '--max-old-space-size=192 --max-semi-space-size=8'],
    ['plain bytes, a YAML number', { resources: { limits: { memory: 402653184 } } }, '--max-old-space-size=192 --max-semi-space-size=8'],
    ['2Gi at 75 %, semi-space 16', { resources: { limits: { memory: '2Gi' } }, nodeHeap: { maxOldSpacePercent: 75, maxSemiSpaceMiB: 16 } }, '--max-old-space-size=1536 --max-semi-space-size=16'],
    ['semi-space 0: Node\'s default, flag left out', { nodeHeap: { maxSemiSpaceMiB: 0 }, resources: { limits: { memory: '384Mi' } } }, '--max-old-space-size=192'],
  ];
  for (const [chart, o] of charts) {
    for (const [name, values, expected] of rows) {
      t.same(nodeOptions(chart, withValues(o, values)), [{ name: 'NODE_OPTIONS', value: expected }], `${chart}: ${name}`);
    }
  }
});

t.test('NODE_OPTIONS in extraEnv wins: the chart renders none of its own and needs no limit', async (t) => {
  for (const [chart, o] of charts) {
    const mine = { name: 'NODE_OPTIONS', value: '--max-old-space-size=300' };
    t.same(nodeOptions(chart, withValues(o, { extraEnv: [mine] })), [mine], `${chart}: only the operator's`);
    t.same(nodeOptions(chart, withValues(o, { extraEnv: [mine], resources: { limits: { memory: null } } })), [mine], `${chart}: no limit needed`);
    const templated = withValues(o, { extraEnv: [{ name: 'NODE_{{ "OPTIONS" }}', value: '--max-old-space-size={{ add 100 200 }}' }] });
    t.same(nodeOptions(chart, templated), [mine], `${chart}: read as rendered (extraEnv takes templates)`);
    t.same(env(chart, withValues(o, { extraEnv: [{ name: 'TZ', value: 'UTC' }] })).slice(-2).map((e) => e.name), ['NODE_OPTIONS', 'TZ'], `${chart}: other extraEnv entries come after the chart's`);
  }
});

t.test('nodeHeap.enabled=false: no NODE_OPTIONS, and no limit needed', async (t) => {
  for (const [chart, o] of charts) {
    t.same(nodeOptions(chart, plus(o, { 'nodeHeap.enabled': 'false' })), [], `${chart}: Node sizes its own heap`);
    t.same(nodeOptions(chart, withValues(o, { nodeHeap: { enabled: false }, resources: { limits: { memory: null } } })), [], `${chart}: renders without a limit`);
  }
});

t.test('refused with a sentence: no limit, a limit it cannot read, a heap too small', async (t) => {
  for (const [chart, o] of charts) {
    const none = template(chart, withValues(o, { resources: { limits: { memory: null } } }));
    t.not(none.status, 0, `${chart}: no limit refused`);
    t.match(none.stderr, `the ${chart} chart cannot render these values (1 problem)`);
    t.match(none.stderr, '\n  - nodeHeap.enabled is true but resources.limits.memory is not set: the chart derives NODE_OPTIONS (--max-old-space-size) from it. Set resources.limits.memory (e.g. 384Mi), set NODE_OPTIONS yourself in extraEnv, or set nodeHeap.enabled=false to leave the heap size to Node');
    t.match(template(chart, withValues(o, { resources: { limits: null } })).stderr, 'resources.limits.memory is not set', `${chart}: no limits at all`);
    for (const bad of ['lots', '384mi', '1e9', '384 Mi', '-1Gi']) {
      const r = template(chart, plus(o, { 'resources.limits.memory': bad }));
      t.not(r.status, 0, `${chart}: ${bad} refused`);
      t.match(r.stderr, `\n  - resources.limits.memory (${JSON.stringify(bad)}) is not a quantity the chart can size the Node heap from: write bytes or a number with Ki, Mi, Gi, Ti, k, M, G or T (e.g. 384Mi, 1Gi, 512M), or set nodeHeap.enabled=false`, `${chart}: ${bad}`);
    }
    const small = template(chart, plus(o, { 'resources.limits.memory': '384' }));
    t.match(small.stderr, '\n  - nodeHeap: --max-old-space-size=0 (50% of resources.limits.memory 384) is too small a heap for the service (at least 32 MiB): raise resources.limits.memory or nodeHeap.maxOldSpacePercent', `${chart}: 384 bytes (Mi forgotten)`);
    t.equal(template(chart, plus(o, { 'resources.limits.memory': 'lots', 'nodeHeap.enabled': 'false' })).status, 0, `${chart}: not read when off`);
    for (const [k, v] of [['nodeHeap.maxOldSpacePercent', '95'], ['nodeHeap.maxOldSpacePercent', '5'], ['nodeHeap.maxSemiSpaceMiB', '-1'], ['nodeHeap.unknown', '1']] as const) {
      t.not(template(chart, plus(o, { [k]: v })).status, 0, `${chart}: the schema refuses ${k}=${v}`);
    }
  }
});

t.test('Node takes the rendered flags, and the heap they give fits the limit', async (t) => {
  for (const [chart, o, limit] of charts) {
    const [opt] = nodeOptions(chart, o);
    const r = spawnSync(process.execPath, ['-p', 'require("node:v8").getHeapStatistics().heap_size_limit'], { encoding: 'utf8', env: { PATH: process.env.PATH, NODE_OPTIONS: opt!.value } });
    t.equal(r.status, 0, `${chart}: ${r.stderr}`);
    const limitMiB = Number.parseInt(limit, 10);
    const heapMiB = Number(r.stdout.trim()) / 2 ** 20;
    t.ok(heapMiB >= limitMiB / 2, `${chart}: heap limit ${heapMiB} MiB, at least the old space`);
    t.ok(heapMiB < limitMiB * 0.75, `${chart}: heap limit ${heapMiB} MiB leaves a quarter of ${limit} for the rest`);
  }
});

t.test('bench 7 runs the authz-service with the NODE_OPTIONS the chart renders by default', async (t) => {
  t.same(nodeOptions('authz-service', authz), [{ name: 'NODE_OPTIONS', value: CHART_NODE_OPTIONS }], 'test/bench/cases/memory.ts mirrors the chart');
  t.same(heapSizing(undefined).env, { NODE_OPTIONS: CHART_NODE_OPTIONS }, 'by default');
  t.same(heapSizing('  '), { env: {}, flags: [], label: "no heap flags: Node's own sizing (BENCH7_NODE_FLAGS empty)" }, 'BENCH7_NODE_FLAGS empty: Node sizes its heap');
  t.same(heapSizing('--max-semi-space-size=8').flags, ['--max-semi-space-size=8'], 'BENCH7_NODE_FLAGS replaces the chart\'s');
});
