import t from 'tap';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { helm, helmBinary } from './helm.js';
import { chartDir, one, render, renderNotes, repoRoot, template, type K8sObject, type RenderOptions } from './render.js';
import { structuralProblems } from './k8s-check.js';
import { makeSecretFiles, minimalRenders } from './fixtures.js';
import { container, podSpec } from './pod-asserts.js';

// The saml-authz-common library chart and what it gives both charts: vendoring that works offline,
// validation that lists every problem at once, clusterDomain, and the extension points.
t.before(() => void helmBinary());
const secrets = await makeSecretFiles();
t.teardown(() => secrets.cleanup());

const { token, authz } = minimalRenders(secrets);
const charts: Array<[string, RenderOptions]> = [['token-service', token], ['authz-service', authz]];
const plus = (o: RenderOptions, set: Record<string, string>): RenderOptions => ({ ...o, set: { ...o.set, ...set } });
let n = 0;
const valuesFile = (v: unknown) => {
  const file = join(secrets.dir, `values-${n++}.yaml`);
  writeFileSync(file, stringify(v));
  return file;
};

t.test('both charts vendor the library as a committed symlink, at the version their Chart.yaml asks for', async (t) => {
  const library = parse(readFileSync(join(chartDir('saml-authz-common'), 'Chart.yaml'), 'utf8')) as { type: string; version: string; name: string };
  t.equal(library.type, 'library');
  for (const [chart] of charts) {
    const link = join(chartDir(chart), 'charts', 'saml-authz-common');
    t.ok(lstatSync(link).isSymbolicLink(), `${chart}: charts/saml-authz-common is a symlink`);
    t.equal(readlinkSync(link), '../../saml-authz-common', `${chart}: relative, so that it resolves in any clone`);
    const deps = (parse(readFileSync(join(chartDir(chart), 'Chart.yaml'), 'utf8')) as { dependencies: unknown[] }).dependencies;
    t.same(deps, [{ name: library.name, version: library.version, repository: 'file://../saml-authz-common' }], `${chart}: the dependency`);
    const git = spawnSync('git', ['ls-files', '-s', `charts/${chart}/charts/saml-authz-common`], { cwd: repoRoot, encoding: 'utf8' });
    if (git.status === 0 && git.stdout.trim() !== '') t.match(git.stdout, /^120000 /, `${chart}: git stores the symlink itself`);
  }
});

t.test('helm package follows the symlink: the packaged chart renders on its own', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'saml-authz-package-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [chart, o] of charts) {
    const pkg = helm(['package', chartDir(chart), '--destination', dir]);
    t.equal(pkg.status, 0, pkg.stderr);
    const tgz = join(dir, `${chart}-0.1.0.tgz`);
    const args = ['template', 'rel', tgz, '--namespace', 'auth'];
    for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set', `${k}=${v}`);
    for (const [k, v] of Object.entries(o.setFile ?? {})) args.push('--set-file', `${k}=${v}`);
    const r = helm(args);
    t.equal(r.status, 0, `${chart}: ${r.stderr}`);
    t.match(r.stdout, 'kind: Deployment');
  }
});

t.test('validation lists every problem in one failure, each naming the value to set', async (t) => {
  const bare = template('token-service');
  t.not(bare.status, 0);
  t.equal(bare.stderr.match(/VALUES VALIDATION/g)?.length, 1, 'one failure');
  t.match(bare.stderr, 'the token-service chart cannot render these values (9 problems). Fix them all, then run helm again:');
  for (const message of [
    'secrets.databaseUrl is required (DATABASE_URL)',
    'secrets.jwtPrivateKeys is required (JWT_PRIVATE_KEY)',
    'secrets.idpCertificates is required (SAML_IDP_CERT)',
    'config.saml.spEntityId is required (SAML_SP_ENTITY_ID)',
    'config.saml.acsUrl is required (SAML_ACS_URL)',
    'config.saml.idpIssuer is required (SAML_IDP_ISSUER)',
    'config.saml.idpSsoUrl is required (SAML_IDP_SSO_URL)',
    'config.jwt.issuer is required (JWT_ISSUER)',
    'config.jwt.audience is required (JWT_AUDIENCE)',
  ]) t.match(bare.stderr, `\n  - ${message}`, message);

  const several = template('authz-service', plus(authz, {
    'config.jwt.issuer': '',
    'terminationGracePeriodSeconds': '10',
    'autoscaling.maxReplicas': '1',
    'policy.existingConfigMap': 'mine',
  }));
  t.not(several.status, 0);
  t.match(several.stderr, '(4 problems)');
  t.match(several.stderr, '\n  - config.jwt.issuer is required (JWT_ISSUER)');
  t.match(several.stderr, '\n  - terminationGracePeriodSeconds (10) must exceed shutdown.delaySeconds + shutdown.timeoutSeconds');
  t.match(several.stderr, '\n  - autoscaling.maxReplicas (1) must be at least autoscaling.minReplicas (2)');
  t.match(several.stderr, '\n  - set either policy.rules or policy.existingConfigMap, not both');
});

t.test('image.tag=latest is refused with a sentence, in both charts; a digest pins the image instead', async (t) => {
  for (const [chart, o] of charts) {
    const r = template(chart, plus(o, { 'image.tag': 'latest' }));
    t.not(r.status, 0, `${chart}: refused`);
    t.match(r.stderr, `the ${chart} chart cannot render these values (1 problem)`);
    t.match(r.stderr, 'image.tag is "latest": a moving tag makes rollbacks and replicas unpredictable. Set image.tag to a released version');
    t.notMatch(r.stderr, 'Must not validate the schema', `${chart}: not the schema's wording`);
    const pinned = render(chart, plus(o, { 'image.tag': 'latest', 'image.digest': `sha256:${'1'.repeat(64)}` }));
    t.equal(container(podSpec(one(pinned, 'Deployment')), chart).image, `saml-authz/${chart}@sha256:${'1'.repeat(64)}`, `${chart}: the digest wins`);
    t.not(template(chart, plus(o, { 'image.tag': '1' })).status, 0, `${chart}: the schema still types the tag (a number is refused)`);
  }
});

t.test('clusterDomain: the in-cluster URLs the charts print', async (t) => {
  const tokenNotes = renderNotes('token-service', plus(token, { clusterDomain: 'corp.internal' }));
  t.match(tokenNotes, 'http://rel-token-service.auth.svc.corp.internal:80/.well-known/jwks.json');
  t.notMatch(tokenNotes, 'cluster.local');
  t.match(renderNotes('token-service', token), 'http://rel-token-service.auth.svc.cluster.local:80/.well-known/jwks.json', 'default cluster.local');
  const authzNotes = renderNotes('authz-service', plus(authz, { clusterDomain: 'corp.internal', 'tokenService.signinUrl': 'https://login.example.com/saml/login' }));
  t.match(authzNotes, 'nginx.ingress.kubernetes.io/auth-url: "http://rel-authz-service.auth.svc.corp.internal:80/auth"');
  const noKeys = template('authz-service', plus(authz, { clusterDomain: 'corp.internal', 'config.jwt.jwksUrl': '' }));
  t.match(noKeys.stderr, 'http://<token-service>.<namespace>.svc.corp.internal/.well-known/jwks.json');
  t.not(template('token-service', plus(token, { clusterDomain: 'Not A Domain' })).status, 0, 'the schema checks the domain');
});

t.test('extraEnv, extraVolumes, extraVolumeMounts and sidecars in both charts', async (t) => {
  const extras = valuesFile({
    extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=192' }],
    extraVolumes: [{ name: 'ca', configMap: { name: '{{ .Release.Name }}-ca' } }],
    extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/ssl/extra', readOnly: true }],
    sidecars: [{
      name: 'log-shipper',
      image: 'fluent/fluent-bit:3.1.9',
      securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '32Mi' } },
    }],
  });
  for (const [chart, o] of charts) {
    const objects = render(chart, { ...o, values: [extras] });
    const spec = podSpec(one(objects, 'Deployment'));
    const c = container(spec, chart);
    t.same(c.env?.at(-1), { name: 'NODE_OPTIONS', value: '--max-old-space-size=192' }, `${chart}: extraEnv after the *_FILE variables`);
    t.same(spec.volumes.at(-1), { name: 'ca', configMap: { name: 'rel-ca' } }, `${chart}: extraVolumes, templated`);
    t.same(c.volumeMounts?.at(-1), { name: 'ca', mountPath: '/etc/ssl/extra', readOnly: true }, `${chart}: extraVolumeMounts`);
    t.same(spec.containers.map((x) => x.name), [chart, 'log-shipper'], `${chart}: the sidecar after the service`);
    t.same(structuralProblems(objects), [`Deployment/rel-${chart}: ConfigMap rel-ca is not rendered`], `${chart}: every mount has its volume; only the operator's own ConfigMap is outside the chart`);
  }
});

t.test('authz-service: config.cache.maxPending is LIVENESS_MAX_PENDING', async (t) => {
  const data = (o: RenderOptions) => (one(render('authz-service', o), 'ConfigMap', 'rel-authz-service') as K8sObject & { data: Record<string, string> }).data;
  t.equal(data(plus(authz, { 'config.cache.maxPending': '2000' })).LIVENESS_MAX_PENDING, '2000');
  t.notOk('LIVENESS_MAX_PENDING' in data(authz), 'the service default unless set');
  t.not(template('authz-service', plus(authz, { 'config.cache.maxPending': '5' })).status, 0, 'the schema keeps the service\'s minimum (10)');
});
