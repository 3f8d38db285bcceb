import t from 'tap';
import { helmBinary } from './helm.js';
import { ciValues, kinds, lint, one, render, template, type K8sObject } from './render.js';
import { structuralProblems } from './k8s-check.js';
import { TOKEN_SERVICE_SET, makeSecretFiles } from './fixtures.js';
import { expectListenDatabaseUrl } from './listen-database-url.js';
import { envNames, expectHardenedPod, expectServiceDeployment, podSpec, podTemplateAnnotations, container } from './pod-asserts.js';

const CHART = 'token-service';
const FULL = 'rel-token-service';
const config = TOKEN_SERVICE_SET;

t.before(() => void helmBinary());
const secrets = await makeSecretFiles();
t.teardown(() => secrets.cleanup());
const setFile = {
  'secrets.databaseUrl.value': secrets.databaseUrl,
  'secrets.jwtPrivateKeys.value': secrets.jwtPrivateKey,
  'secrets.idpCertificates.value': secrets.idpCert,
};
const fromValues = { set: config, setFile };
const existing = { values: [ciValues(CHART, 'existing-secrets-values.yaml')] };
const allFlags = { values: [ciValues(CHART, 'all-flags-values.yaml')] };

t.test('helm lint --strict passes for secrets as values, existing secrets, and every flag on', async (t) => {
  for (const [name, o] of Object.entries({ fromValues, existing, allFlags })) {
    const r = lint(CHART, o);
    t.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
    t.notMatch(r.stdout, /\[(WARNING|ERROR)\]/, `${name}: no lint warnings`);
  }
});

t.test('renders the default set of objects, each structurally valid', async (t) => {
  const objects = render(CHART, fromValues);
  t.same(kinds(objects), [
    `ConfigMap/${FULL}`,
    `Deployment/${FULL}`,
    `HorizontalPodAutoscaler/${FULL}`,
    `Job/${FULL}-migrate`,
    `NetworkPolicy/${FULL}`,
    `NetworkPolicy/${FULL}-migrate`,
    `PodDisruptionBudget/${FULL}`,
    `Secret/${FULL}`,
    `Secret/${FULL}-migrate`,
    `Service/${FULL}`,
    `ServiceAccount/${FULL}`,
  ]);
  for (const [name, o] of Object.entries({ fromValues, existing, allFlags })) {
    t.same(structuralProblems(render(CHART, o)), [], `${name}: no structural problems`);
  }
});

t.test('a missing required secret fails the render and names the value to set', async (t) => {
  const cases: Array<[string, string]> = [
    ['secrets.databaseUrl.value', 'secrets.databaseUrl is required (DATABASE_URL)'],
    ['secrets.jwtPrivateKeys.value', 'secrets.jwtPrivateKeys is required (JWT_PRIVATE_KEY)'],
    ['secrets.idpCertificates.value', 'secrets.idpCertificates is required (SAML_IDP_CERT)'],
  ];
  for (const [missing, message] of cases) {
    const files = Object.fromEntries(Object.entries(setFile).filter(([k]) => k !== missing));
    const r = template(CHART, { set: config, setFile: files });
    t.not(r.status, 0, `${missing} missing: render fails`);
    t.match(r.stderr, message, `${missing} missing: message`);
    t.match(r.stderr, `or ${missing.replace('.value', '.existingSecret')}`, `${missing} missing: mentions existingSecret`);
  }
  const bare = template(CHART);
  t.not(bare.status, 0, 'the chart defaults alone do not render');
  t.match(bare.stderr, /secrets\.\w+ is required/);
});

t.test('missing required settings and contradictory secrets fail with their message', async (t) => {
  const noAcs = template(CHART, { ...fromValues, set: { ...config, 'config.saml.acsUrl': '' } });
  t.not(noAcs.status, 0);
  t.match(noAcs.stderr, 'config.saml.acsUrl is required (SAML_ACS_URL)');
  const both = template(CHART, { ...fromValues, set: { ...config, 'secrets.databaseUrl.existingSecret': 'db' } });
  t.not(both.status, 0);
  t.match(both.stderr, 'set either secrets.databaseUrl.value or secrets.databaseUrl.existingSecret, not both');
  const notPem = template(CHART, { set: config, setFile: { ...setFile, 'secrets.jwtPrivateKeys.value': secrets.databaseUrl } });
  t.not(notPem.status, 0);
  t.match(notPem.stderr, 'secrets.jwtPrivateKeys.value must be PEM');
  const shortGrace = template(CHART, { ...fromValues, set: { ...config, terminationGracePeriodSeconds: '25' } });
  t.not(shortGrace.status, 0);
  t.match(shortGrace.stderr, 'terminationGracePeriodSeconds (25) must exceed shutdown.delaySeconds + shutdown.timeoutSeconds (25)');
});

t.test('the schema rejects unknown keys at every level, and the latest tag', async (t) => {
  for (const key of ['replicas', 'config.saml.idpIssuerr', 'config.jwt.kid', 'secrets.databaseUrl.name', 'networkPolicy.database.host', 'ingress.tls.hosts', 'probes.liveness.path', 'podSecurityContext.runAsRoot']) {
    const r = template(CHART, { ...fromValues, set: { ...config, [key]: '1' } });
    t.not(r.status, 0, `${key} is rejected`);
    t.match(r.stderr, /Additional property \S+ is not allowed/, `${key}: schema message`);
  }
  const latest = template(CHART, { ...fromValues, set: { ...config, 'image.tag': 'latest' } });
  t.not(latest.status, 0, 'image.tag=latest is rejected');
  t.match(latest.stderr, 'image.tag');
  const root = template(CHART, { ...fromValues, set: { ...config, 'containerSecurityContext.readOnlyRootFilesystem': 'false' } });
  t.not(root.status, 0, 'a writable root filesystem is rejected');
});

t.test('the Deployment: hardened pod, probes, named ports, secrets as files, spread, checksums', async (t) => {
  const objects = render(CHART, fromValues);
  const deploy = one(objects, 'Deployment');
  const spec = podSpec(deploy);
  const c = expectServiceDeployment(t, deploy, { name: 'token-service', image: 'saml-authz/token-service:0.1.0', httpPort: 8080, metricsPort: 9464 });
  t.equal(spec.terminationGracePeriodSeconds, 35);
  t.equal((deploy.spec as { replicas?: number }).replicas, undefined, 'replicas left to the HPA');
  t.same(c.env, [
    { name: 'DATABASE_URL_FILE', value: '/var/run/secrets/saml-authz/database-url' },
    { name: 'SAML_IDP_CERT_FILE', value: '/var/run/secrets/saml-authz/idp-certificates.pem' },
    { name: 'JWT_PRIVATE_KEY_FILE', value: '/var/run/secrets/saml-authz/jwt-private-keys.pem' },
    { name: 'NODE_OPTIONS', value: '--max-old-space-size=128 --max-semi-space-size=8' },
  ]);
  const projected = spec.volumes.find((v) => v.name === 'secrets')?.projected as { sources: Array<{ secret: { name: string; items: unknown[] } }> };
  t.same(projected.sources.map((s) => s.secret.name), [FULL, FULL, FULL]);
  const secret = one(objects, 'Secret', FULL) as K8sObject & { data: Record<string, string> };
  t.same(Object.keys(secret.data).sort(), ['database-url', 'idp-certificates.pem', 'jwt-private-keys.pem']);
  const cm = one(objects, 'ConfigMap', FULL) as K8sObject & { data: Record<string, string> };
  t.equal(cm.data.SAML_ACS_URL, config['config.saml.acsUrl']);
  t.equal(cm.data.PORT, '8080');
  t.equal(cm.data.METRICS_PORT, '9464');
  t.notOk('SAML_CLOCK_SKEW_SECONDS' in cm.data, 'unset settings keep the service default');
  t.notOk('SESSION_IDLE_TIMEOUT_SECONDS' in cm.data, 'session timeouts too');
  const flagged = one(render(CHART, allFlags), 'ConfigMap', FULL) as typeof cm;
  t.equal(flagged.data.SESSION_IDLE_TIMEOUT_SECONDS, '900');
  t.equal(flagged.data.SESSION_MAX_LIFETIME_SECONDS, '28800');
});

t.test('checksum annotations change with the config and the secret, independently', async (t) => {
  const annotations = (o: Parameters<typeof render>[1]) => podTemplateAnnotations(one(render(CHART, o), 'Deployment'));
  const base = annotations(fromValues);
  t.match(base['checksum/config'], /^[0-9a-f]{64}$/);
  t.match(base['checksum/secret'], /^[0-9a-f]{64}$/);
  const config2 = annotations({ ...fromValues, set: { ...config, 'config.logLevel': 'debug' } });
  t.not(config2['checksum/config'], base['checksum/config'], 'a setting rolls the pods');
  t.equal(config2['checksum/secret'], base['checksum/secret']);
  const secret2 = annotations({ ...fromValues, setFile: { ...setFile, 'secrets.jwtPrivateKeys.value': secrets.jwtPrivateKey2 } });
  t.not(secret2['checksum/secret'], base['checksum/secret'], 'a new key rolls the pods');
  t.equal(secret2['checksum/config'], base['checksum/config']);
  const renamed = annotations({ ...existing, set: { 'secrets.jwtPrivateKeys.existingSecret': 'keys-v2' } });
  t.not(renamed['checksum/secret'], annotations(existing)['checksum/secret'], 'switching existingSecret rolls the pods');
});

t.test('the migration Job is a pre-install,pre-upgrade hook after its own hook Secret', async (t) => {
  const objects = render(CHART, fromValues);
  const job = one(objects, 'Job');
  const hookSecret = one(objects, 'Secret', `${FULL}-migrate`) as K8sObject & { data: Record<string, string> };
  t.equal(job.metadata.annotations?.['helm.sh/hook'], 'pre-install,pre-upgrade');
  t.equal(hookSecret.metadata.annotations?.['helm.sh/hook'], 'pre-install,pre-upgrade');
  t.ok(Number(hookSecret.metadata.annotations?.['helm.sh/hook-weight']) < Number(job.metadata.annotations?.['helm.sh/hook-weight']), 'the Secret is created first');
  t.equal(job.metadata.annotations?.['helm.sh/hook-delete-policy'], 'before-hook-creation,hook-succeeded');
  t.equal(hookSecret.metadata.annotations?.['helm.sh/hook-delete-policy'], 'before-hook-creation,hook-succeeded');
  t.same(Object.keys(hookSecret.data), ['database-url'], 'the hook Secret holds the database URL only');
  const main = one(objects, 'Secret', FULL) as K8sObject & { data: Record<string, string> };
  t.equal(hookSecret.data['database-url'], main.data['database-url']);
  const spec = podSpec(job);
  expectHardenedPod(t, spec);
  const c = container(spec, 'migrate');
  t.same(c.command, ['node', '--enable-source-maps', 'dist/services/shared/db/migrate-cli.js']);
  t.same(c.env, [{ name: 'DATABASE_URL_FILE', value: '/var/run/secrets/saml-authz/database-url' }]);
  t.equal((spec.volumes.find((v) => v.name === 'database-url')?.secret as { secretName: string }).secretName, `${FULL}-migrate`);
  t.equal(spec.restartPolicy, 'Never');
  t.equal(spec.serviceAccountName, undefined, 'no release ServiceAccount: it does not exist yet at pre-install');
  t.not(job.metadata.labels?.['app.kubernetes.io/name'], 'token-service', 'the Service does not select the Job');

  const withExisting = render(CHART, existing);
  t.notOk(withExisting.some((o) => o.kind === 'Secret'), 'existing secrets: the chart renders no Secret');
  const jobSpec = podSpec(one(withExisting, 'Job'));
  t.same(jobSpec.volumes.find((v) => v.name === 'database-url')?.secret, {
    secretName: 'saml-authz-database',
    items: [{ key: 'database-url', path: 'database-url' }],
    defaultMode: 0o440,
  });
  const off = render(CHART, { ...fromValues, set: { ...config, 'migrations.enabled': 'false' } });
  t.notOk(off.some((o) => o.kind === 'Job' || o.metadata.name === `${FULL}-migrate`), 'migrations.enabled=false: no hook');
});

t.test('secrets.listenDatabaseUrl: LISTEN_DATABASE_URL_FILE from the chart Secret or an existing one; a URL that is not postgres:// fails the render', async (t) => {
  expectListenDatabaseUrl(t, { chart: CHART, full: FULL, containerName: 'token-service', fromValues, allFlags, databaseUrlFile: secrets.databaseUrl });
});

t.test('Service, ServiceAccount, PDB and HPA', async (t) => {
  const objects = render(CHART, fromValues);
  const svc = one(objects, 'Service') as K8sObject & { spec: { ports: unknown[]; selector: unknown } };
  t.same(svc.spec.ports, [
    { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
    { name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' },
  ]);
  t.equal((one(objects, 'ServiceAccount') as K8sObject & { automountServiceAccountToken: boolean }).automountServiceAccountToken, false);
  t.same((one(objects, 'PodDisruptionBudget').spec as { maxUnavailable: number }).maxUnavailable, 1);
  t.same((one(objects, 'HorizontalPodAutoscaler').spec as { minReplicas: number }).minReplicas, 2);
  const fixed = render(CHART, { ...fromValues, set: { ...config, 'autoscaling.enabled': 'false', replicaCount: '3', 'pdb.enabled': 'false' } });
  t.equal((one(fixed, 'Deployment').spec as { replicas: number }).replicas, 3);
  t.notOk(fixed.some((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'PodDisruptionBudget'));
});

t.test('NetworkPolicy on by default: ingress controller and authz to http, monitoring to metrics, Postgres and DNS out', async (t) => {
  const np = one(render(CHART, fromValues), 'NetworkPolicy', FULL) as K8sObject & { spec: { ingress: Array<{ from: unknown[]; ports: unknown[] }>; egress: Array<{ to?: unknown[]; ports: unknown[] }>; policyTypes: string[] } };
  t.same(np.spec.policyTypes, ['Ingress', 'Egress']);
  t.same(np.spec.ingress[0]!.from, [
    { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } }, podSelector: {} },
    { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'authz-service' } } },
  ]);
  t.same(np.spec.ingress[0]!.ports, [{ port: 'http', protocol: 'TCP' }]);
  t.same(np.spec.ingress[1]!.from, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: {} }]);
  t.same(np.spec.ingress[1]!.ports, [{ port: 'metrics', protocol: 'TCP' }]);
  t.same(np.spec.egress[0], { ports: [{ port: 5432, protocol: 'TCP' }] });
  t.same(np.spec.egress[1]!.ports, [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
  t.equal(np.spec.egress.length, 2, 'nothing else: the IdP is never called');
  const cidr = one(render(CHART, allFlags), 'NetworkPolicy', FULL) as typeof np;
  t.same(cidr.spec.egress[0]!.to?.[0], { ipBlock: { cidr: '10.20.0.0/16' } });
  const off = render(CHART, { ...fromValues, set: { ...config, 'networkPolicy.enabled': 'false' } });
  t.notOk(off.some((o) => o.kind === 'NetworkPolicy'));
});

t.test('ServiceMonitor only when enabled, on the metrics port', async (t) => {
  t.notOk(render(CHART, fromValues).some((o) => o.kind === 'ServiceMonitor'));
  const sm = one(render(CHART, allFlags), 'ServiceMonitor') as K8sObject & { spec: { endpoints: Array<{ port: string; path: string }> } };
  t.same(sm.spec.endpoints.map((e) => [e.port, e.path]), [['metrics', '/metrics']]);
  t.equal(sm.metadata.labels?.release, 'kube-prometheus-stack');
});

t.test('Ingress: only the public endpoints, with the source-range allowlist and TLS', async (t) => {
  t.notOk(render(CHART, fromValues).some((o) => o.kind === 'Ingress'), 'off by default');
  const ing = one(render(CHART, allFlags), 'Ingress') as K8sObject & { spec: { rules: Array<{ host: string; http: { paths: Array<{ path: string; pathType: string }> } }>; tls: unknown } };
  t.same(ing.spec.rules[0]!.http.paths.map((p) => [p.path, p.pathType]), [
    ['/saml/', 'Prefix'],
    ['/logout', 'Exact'],
    ['/.well-known/jwks.json', 'Exact'],
  ]);
  t.equal(ing.spec.rules[0]!.host, 'login.example.com');
  t.equal(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/whitelist-source-range'], '203.0.113.0/24,198.51.100.0/24');
  t.same(ing.spec.tls, [{ hosts: ['login.example.com'], secretName: 'login-example-com-tls' }]);
  const noHost = template(CHART, { ...fromValues, set: { ...config, 'ingress.enabled': 'true' } });
  t.not(noHost.status, 0);
  t.match(noHost.stderr, 'ingress.host is required when ingress.enabled is true');
});

t.test('no image is ever :latest, and a digest pins the image', async (t) => {
  for (const o of [fromValues, existing, allFlags]) {
    const r = template(CHART, o);
    t.equal(r.status, 0);
    t.notMatch(r.stdout, /image:.*:latest/);
  }
  const images = render(CHART, allFlags).flatMap((o) => (o.kind === 'Deployment' || o.kind === 'Job' ? podSpec(o).containers.map((c) => c.image) : []));
  t.same(images, [
    'saml-authz/token-service@sha256:0000000000000000000000000000000000000000000000000000000000000000',
    'saml-authz/token-service@sha256:0000000000000000000000000000000000000000000000000000000000000000',
  ]);
});

t.test('SAML Single Logout: the SP signing key pair mounted as files, the SLO settings in the ConfigMap', async (t) => {
  const slo = {
    set: { ...config, 'config.saml.idpSloUrl': 'https://example.okta.com/app/example/slo/saml', 'config.saml.nameIdFormat': 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' },
    setFile: { ...setFile, 'secrets.spSigningKey.value': secrets.jwtPrivateKey, 'secrets.spSigningCert.value': secrets.idpCert },
  };
  const objects = render(CHART, slo);
  const c = container(podSpec(one(objects, 'Deployment')), 'token-service');
  t.match(c.env, [
    { name: 'DATABASE_URL_FILE' },
    { name: 'SAML_IDP_CERT_FILE' },
    { name: 'JWT_PRIVATE_KEY_FILE' },
  ]);
  const names = envNames(c);
  t.ok(names.includes('SAML_SP_SIGNING_KEY_FILE') && names.includes('SAML_SP_SIGNING_CERT_FILE'), 'the key pair as *_FILE');
  const secret = one(objects, 'Secret', FULL) as K8sObject & { data: Record<string, string> };
  t.ok('saml-sp-signing-key.pem' in secret.data && 'saml-sp-signing-cert.pem' in secret.data, 'in the chart\'s Secret');
  const cm = one(objects, 'ConfigMap', FULL) as K8sObject & { data: Record<string, string> };
  t.equal(cm.data.SAML_IDP_SLO_URL, 'https://example.okta.com/app/example/slo/saml');
  t.equal(cm.data.SAML_NAMEID_FORMAT, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');

  const rows: Array<[string, Record<string, string>, Record<string, string>, string]> = [
    ['SLO without the signing key', { 'config.saml.idpSloUrl': 'https://idp.example.com/slo' }, {}, 'config.saml.idpSloUrl (SAML Single Logout) needs secrets.spSigningKey'],
    ['a signing key without its certificate', {}, { 'secrets.spSigningKey.value': secrets.jwtPrivateKey }, 'secrets.spSigningKey is set without secrets.spSigningCert'],
    ['signed AuthnRequests without the key', { 'config.saml.signAuthnRequests': 'true' }, {}, 'config.saml.signAuthnRequests needs secrets.spSigningKey'],
  ];
  for (const [name, set, files, message] of rows) {
    const r = template(CHART, { set: { ...config, ...set }, setFile: { ...setFile, ...files } });
    t.not(r.status, 0, `${name}: the render fails`);
    t.match(r.stderr, message, `${name}: says why`);
  }
});
