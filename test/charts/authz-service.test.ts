import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { helmBinary } from './helm.js';
import { ciValues, kinds, lint, one, render, renderNotes, template, type K8sObject } from './render.js';
import { structuralProblems } from './k8s-check.js';
import { AUTHZ_SERVICE_SET, makeSecretFiles } from './fixtures.js';
import { container, envNames, expectServiceDeployment, podSpec, podTemplateAnnotations } from './pod-asserts.js';
import { expectListenDatabaseUrl } from './listen-database-url.js';

const CHART = 'authz-service';
const FULL = 'rel-authz-service';
const AUTH_URL = `http://${FULL}.auth.svc.cluster.local:80/auth`;
const HEADERS = ['X-Auth-Request-User', 'X-Auth-Request-Email', 'X-Auth-Request-Groups'];
const config = { ...AUTHZ_SERVICE_SET, 'policy.rules[0].groups[0]': 'employees' };

t.before(() => void helmBinary());
const secrets = await makeSecretFiles();
t.teardown(() => secrets.cleanup());
const fromValues = { set: config, setFile: { 'secrets.databaseUrl.value': secrets.databaseUrl } };
const staticKeys = {
  set: { ...config, 'config.jwt.jwksUrl': '' },
  setFile: { 'secrets.databaseUrl.value': secrets.databaseUrl, 'secrets.jwtPublicKeys.value': secrets.jwtPublicKey },
};
const jwks = { values: [ciValues(CHART, 'jwks-values.yaml')] };
const allFlags = { values: [ciValues(CHART, 'all-flags-values.yaml')] };

t.test('helm lint --strict passes for JWKS, static keys, existing secrets and every flag on', async (t) => {
  for (const [name, o] of Object.entries({ fromValues, staticKeys, jwks, allFlags })) {
    const r = lint(CHART, o);
    t.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
    t.notMatch(r.stdout, /\[(WARNING|ERROR)\]/, `${name}: no lint warnings`);
  }
});

t.test('renders the default set of objects, each structurally valid, and never an Ingress', async (t) => {
  t.same(kinds(render(CHART, fromValues)), [
    `ConfigMap/${FULL}`,
    `ConfigMap/${FULL}-policy`,
    `Deployment/${FULL}`,
    `HorizontalPodAutoscaler/${FULL}`,
    `NetworkPolicy/${FULL}`,
    `PodDisruptionBudget/${FULL}`,
    `Secret/${FULL}`,
    `Service/${FULL}`,
    `ServiceAccount/${FULL}`,
  ]);
  for (const [name, o] of Object.entries({ fromValues, staticKeys, jwks, allFlags })) {
    const objects = render(CHART, o);
    t.same(structuralProblems(objects), [], `${name}: no structural problems`);
    t.notOk(objects.some((x) => x.kind === 'Ingress'), `${name}: no Ingress`);
  }
});

t.test('missing secrets, keys and policy fail the render with their message', async (t) => {
  const noDb = template(CHART, { set: config });
  t.not(noDb.status, 0);
  t.match(noDb.stderr, 'secrets.databaseUrl is required (DATABASE_URL): set secrets.databaseUrl.value');
  const noKeys = template(CHART, { ...fromValues, set: { ...config, 'config.jwt.jwksUrl': '' } });
  t.not(noKeys.status, 0);
  t.match(noKeys.stderr, "the token-service's public keys are required: set config.jwt.jwksUrl");
  const bothKeys = template(CHART, { ...staticKeys, set: config });
  t.not(bothKeys.status, 0);
  t.match(bothKeys.stderr, 'set either config.jwt.jwksUrl or secrets.jwtPublicKeys, not both');
  const noPolicy = template(CHART, { set: { 'config.jwt.issuer': 'i', 'config.jwt.audience': 'a', 'config.jwt.jwksUrl': config['config.jwt.jwksUrl'] }, setFile: fromValues.setFile });
  t.not(noPolicy.status, 0);
  t.match(noPolicy.stderr, 'a policy is required: set policy.rules');
  const noIssuer = template(CHART, { ...fromValues, set: { ...config, 'config.jwt.issuer': '' } });
  t.not(noIssuer.status, 0);
  t.match(noIssuer.stderr, 'config.jwt.issuer is required (JWT_ISSUER)');
});

t.test('the schema rejects unknown keys at every level, unknown rule fields and front ends', async (t) => {
  for (const key of ['ingress.enabled', 'config.frontend', 'config.jwt.jwks', 'policy.rules[0].path[0]', 'networkPolicy.tokenService.ports', 'secrets.jwtPublicKeys.file']) {
    const r = template(CHART, { ...fromValues, set: { ...config, [key]: 'x' } });
    t.not(r.status, 0, `${key} is rejected`);
    t.match(r.stderr, /Additional property \S+ is not allowed/, `${key}: schema message`);
  }
  const frontEnd = template(CHART, { ...fromValues, set: { ...config, 'config.frontEnd': 'haproxy' } });
  t.not(frontEnd.status, 0);
  t.match(frontEnd.stderr, 'config.frontEnd');
  const effect = template(CHART, { ...fromValues, set: { ...config, 'policy.rules[0].effect': 'permit' } });
  t.not(effect.status, 0, 'a rule effect other than allow/deny is rejected');
});

t.test('the Deployment: hardened pod, probes, named ports, keys, policy mounted as a directory', async (t) => {
  const objects = render(CHART, fromValues);
  const deploy = one(objects, 'Deployment');
  const spec = podSpec(deploy);
  const c = expectServiceDeployment(t, deploy, { name: 'authz-service', image: 'saml-authz/authz-service:0.1.0', httpPort: 8081, metricsPort: 9465 });
  t.same(c.env, [
    { name: 'DATABASE_URL_FILE', value: '/var/run/secrets/saml-authz/database-url' },
    { name: 'NODE_OPTIONS', value: '--max-old-space-size=192 --max-semi-space-size=8' },
  ]);
  t.same(c.volumeMounts?.find((m) => m.name === 'policy'), { name: 'policy', mountPath: '/etc/saml-authz/policy', readOnly: true });
  t.same(spec.volumes.find((v) => v.name === 'policy'), {
    name: 'policy',
    configMap: { name: `${FULL}-policy`, items: [{ key: 'policy.yaml', path: 'policy.yaml' }] },
  });
  const cm = one(objects, 'ConfigMap', FULL) as K8sObject & { data: Record<string, string> };
  t.equal(cm.data.POLICY_FILE, '/etc/saml-authz/policy/policy.yaml');
  t.equal(cm.data.FRONT_END, 'ingress-nginx');
  t.equal(cm.data.JWKS_URL, config['config.jwt.jwksUrl']);
  t.equal(cm.data.METRICS_PORT, '9465');
  t.notOk('JWT_PUBLIC_KEYS_FILE' in cm.data);
  const keyed = container(podSpec(one(render(CHART, staticKeys), 'Deployment')), 'authz-service');
  t.same(envNames(keyed), ['DATABASE_URL_FILE', 'JWT_PUBLIC_KEYS_FILE', 'NODE_OPTIONS']);
});

t.test('the policy ConfigMap holds the rules; its edits do not roll the pods; an existing one is used as is', async (t) => {
  const annotations = (o: Parameters<typeof render>[1]) => podTemplateAnnotations(one(render(CHART, o), 'Deployment'));
  const objects = render(CHART, fromValues);
  const policy = one(objects, 'ConfigMap', `${FULL}-policy`) as K8sObject & { data: Record<string, string> };
  t.same(parse(policy.data['policy.yaml']!), {
    version: 1,
    rules: [{ id: 'app-employees', effect: 'allow', paths: ['/**'], groups: ['employees'] }],
  });
  const edited = { ...fromValues, set: { ...config, 'policy.rules[0].groups[0]': 'admins' } };
  t.not(
    (one(render(CHART, edited), 'ConfigMap', `${FULL}-policy`) as typeof policy).data['policy.yaml'],
    policy.data['policy.yaml'],
  );
  t.same(annotations(edited), annotations(fromValues), 'a policy edit changes no checksum: the service reloads it');
  const clinic = render(CHART, { ...fromValues, set: { ...config, 'policy.rules[0].idps[0]': 'https://idp.clinic.example/saml' } });
  t.same(parse((one(clinic, 'ConfigMap', `${FULL}-policy`) as typeof policy).data['policy.yaml']!).rules[0].idps, ['https://idp.clinic.example/saml'], 'an inline rule can name idps');
  t.not(annotations({ ...fromValues, set: { ...config, 'config.cache.ttlSeconds': '5' } })['checksum/config'], annotations(fromValues)['checksum/config']);

  const existing = render(CHART, allFlags);
  t.notOk(existing.some((o) => o.metadata.name === `${FULL}-policy`), 'no chart ConfigMap with policy.existingConfigMap');
  t.same(podSpec(one(existing, 'Deployment')).volumes.find((v) => v.name === 'policy'), {
    name: 'policy',
    configMap: { name: 'saml-authz-policy', items: [{ key: 'rules.yaml', path: 'rules.yaml' }] },
  });
  t.equal((one(existing, 'ConfigMap', FULL) as typeof policy).data.POLICY_FILE, '/etc/saml-authz/policy/rules.yaml');
  t.notOk(existing.some((o) => o.kind === 'Secret'), 'existing secrets: the chart renders no Secret');
});

t.test('NetworkPolicy: /auth from the ingress controller only, metrics from monitoring, egress to Postgres, DNS and the JWKS', async (t) => {
  type Np = K8sObject & { spec: { ingress: Array<{ from: unknown[]; ports: unknown[] }>; egress: Array<{ to?: unknown[]; ports: unknown[] }> } };
  const np = one(render(CHART, fromValues), 'NetworkPolicy') as Np;
  t.same(np.spec.ingress, [
    { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } }, podSelector: {} }], ports: [{ port: 'http', protocol: 'TCP' }] },
    { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: {} }], ports: [{ port: 'metrics', protocol: 'TCP' }] },
  ]);
  t.same(np.spec.egress[0], { ports: [{ port: 5432, protocol: 'TCP' }] });
  t.same(np.spec.egress[2], {
    to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'token-service' } } }],
    ports: [{ port: 8080, protocol: 'TCP' }],
  }, 'JWKS egress to the token-service pods');
  const keyed = one(render(CHART, staticKeys), 'NetworkPolicy') as Np;
  t.equal(keyed.spec.egress.length, 2, 'static keys: no egress to the token-service');
  const traefik = one(render(CHART, allFlags), 'NetworkPolicy') as Np;
  t.same(traefik.spec.ingress[0]!.from, [{
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'traefik' } },
    podSelector: { matchLabels: { 'app.kubernetes.io/name': 'traefik' } },
  }]);
  t.same(traefik.spec.egress[0], { ports: [{ port: 6432, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.20.0.0/16' } }] });
  t.notOk(render(CHART, { ...fromValues, set: { ...config, 'networkPolicy.enabled': 'false' } }).some((o) => o.kind === 'NetworkPolicy'));
});

t.test('secrets.listenDatabaseUrl: LISTEN_DATABASE_URL_FILE from the chart Secret or an existing one; a URL that is not postgres:// fails the render', async (t) => {
  expectListenDatabaseUrl(t, { chart: CHART, full: FULL, containerName: 'authz-service', fromValues, allFlags, databaseUrlFile: secrets.databaseUrl });

  // The degraded mode's settings and the egress to the direct Postgres (DATABASE_URL being a pooler on 6432).
  const cm = (o: Parameters<typeof render>[1]) => (one(render(CHART, o), 'ConfigMap', FULL) as K8sObject & { data: Record<string, string> }).data;
  t.match(cm(allFlags), { LIVENESS_DEGRADED_BATCH_MS: '10', LISTENER_PROBE_INTERVAL_MS: '1000', LISTENER_PROBE_TIMEOUT_MS: '750', ACCESS_LOG: 'false', ACCESS_LOG_ALLOWED_SAMPLE: '10' });
  t.notOk(['LIVENESS_DEGRADED_BATCH_MS', 'LISTENER_PROBE_INTERVAL_MS', 'LISTENER_PROBE_TIMEOUT_MS', 'ACCESS_LOG_ALLOWED_SAMPLE'].some((k) => k in cm(fromValues)), 'service defaults unless set');
  const sample = template(CHART, { ...fromValues, set: { ...config, 'config.accessLogAllowedSample': '0' } });
  t.not(sample.status, 0, 'an access-line sample of 0 is rejected by the schema');
  type Np = K8sObject & { spec: { egress: unknown[] } };
  t.same((one(render(CHART, allFlags), 'NetworkPolicy') as Np).spec.egress.slice(0, 2), [
    { ports: [{ port: 6432, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.20.0.0/16' } }] },
    { ports: [{ port: 5432, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.21.0.0/16' } }] },
  ], 'egress to the pooler and to the direct Postgres');
  t.equal((one(render(CHART, fromValues), 'NetworkPolicy') as Np).spec.egress.length, 3, 'no extra rule by default');
});

t.test('ServiceMonitor only when enabled; Service exposes http and metrics', async (t) => {
  t.notOk(render(CHART, fromValues).some((o) => o.kind === 'ServiceMonitor'));
  const objects = render(CHART, allFlags);
  const sm = one(objects, 'ServiceMonitor') as K8sObject & { spec: { endpoints: Array<{ port: string }>; namespaceSelector: unknown } };
  t.equal(sm.metadata.namespace, 'monitoring');
  t.same(sm.spec.namespaceSelector, { matchNames: ['auth'] });
  t.same(sm.spec.endpoints.map((e) => e.port), ['metrics']);
  t.same((one(objects, 'Service').spec as { ports: unknown[] }).ports, [
    { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
    { name: 'metrics', port: 9465, targetPort: 'metrics', protocol: 'TCP' },
  ]);
  t.equal((one(objects, 'Deployment').spec as { replicas: number }).replicas, 3, 'autoscaling off: fixed replicas');
});

t.test('NOTES.txt prints the exact ingress-nginx annotations with the real service name', async (t) => {
  const notes = renderNotes(CHART, jwks);
  t.match(notes, `nginx.ingress.kubernetes.io/auth-url: "${AUTH_URL}"`);
  t.match(notes, 'nginx.ingress.kubernetes.io/auth-signin: "https://login.example.com/saml/login?rd=$scheme://$host$escaped_request_uri"');
  t.match(notes, `nginx.ingress.kubernetes.io/auth-response-headers: "${HEADERS.join(',')}"`);
  const other = renderNotes(CHART, { ...jwks, release: 'sso', namespace: 'identity' });
  t.match(other, 'nginx.ingress.kubernetes.io/auth-url: "http://sso-authz-service.identity.svc.cluster.local:80/auth"');
  const placeholder = renderNotes(CHART, fromValues);
  t.match(placeholder, 'Set tokenService.signinUrl');
});

t.test('NOTES.txt prints a Traefik Middleware and an Envoy Gateway SecurityPolicy for those front ends', async (t) => {
  const traefik = renderNotes(CHART, { ...jwks, set: { 'config.frontEnd': 'traefik' } });
  const mw = parse(traefik.slice(traefik.indexOf('apiVersion: traefik.io'), traefik.indexOf('\nThen reference')).replace(/^ {2}/gm, ''));
  t.same(mw, {
    apiVersion: 'traefik.io/v1alpha1',
    kind: 'Middleware',
    metadata: { name: 'saml-authz', namespace: "<your app's namespace>" },
    spec: { forwardAuth: { address: AUTH_URL, trustForwardHeader: false, authResponseHeaders: HEADERS } },
  });
  t.notMatch(traefik, 'nginx.ingress.kubernetes.io/auth-url');

  const envoy = renderNotes(CHART, { ...jwks, set: { 'config.frontEnd': 'envoy' } });
  const start = envoy.indexOf('apiVersion: gateway.envoyproxy.io');
  const sp = parse(envoy.slice(start, envoy.indexOf('\nA SecurityPolicy in another namespace')).replace(/^ {2}/gm, ''));
  t.same(sp.spec.extAuth, {
    http: {
      backendRefs: [{ name: FULL, namespace: 'auth', port: 80 }],
      path: '/auth/ext',
      headersToBackend: HEADERS,
    },
  });
  t.equal(sp.kind, 'SecurityPolicy');
  const prefixed = renderNotes(CHART, { ...jwks, set: { 'config.frontEnd': 'envoy', 'config.envoyPathPrefix': '/_authz' } });
  t.match(prefixed, 'path: /_authz');
});

t.test('upstream assertion: the key as a secret (value or existingSecret), issuer/TTL/all settings, JWKS clients and URL', async (t) => {
  const withKey = {
    set: { ...config, 'config.upstreamJwt.issuer': 'https://authz.example.com', 'config.upstreamJwt.ttlSeconds': '30' },
    setFile: { ...fromValues.setFile, 'secrets.upstreamJwtPrivateKey.value': secrets.jwtPrivateKey },
  };
  const objects = render(CHART, withKey);
  const env = container(podSpec(one(objects, 'Deployment')), 'authz-service').env ?? [];
  t.same(env.find((e) => e.name === 'UPSTREAM_JWT_PRIVATE_KEY_FILE'), { name: 'UPSTREAM_JWT_PRIVATE_KEY_FILE', value: '/var/run/secrets/saml-authz/upstream-jwt-private-key.pem' });
  const secret = one(objects, 'Secret', FULL) as K8sObject & { data: Record<string, string> };
  t.equal(Buffer.from(secret.data['upstream-jwt-private-key.pem']!, 'base64').toString(), readFileSync(secrets.jwtPrivateKey, 'utf8'), 'kept in the chart Secret');
  const cm = (o: Parameters<typeof render>[1]) => (one(render(CHART, o), 'ConfigMap', FULL) as K8sObject & { data: Record<string, string> }).data;
  t.match(cm(withKey), { UPSTREAM_JWT_ISSUER: 'https://authz.example.com', UPSTREAM_JWT_TTL_SECONDS: '30' });
  t.notOk(Object.keys(cm(fromValues)).some((k) => k.startsWith('UPSTREAM_JWT')), 'off unless configured');
  t.notOk((container(podSpec(one(render(CHART, fromValues), 'Deployment')), 'authz-service').env ?? []).some((e) => e.name === 'UPSTREAM_JWT_PRIVATE_KEY_FILE'), 'no key file unless given');
  t.match(cm(allFlags), { UPSTREAM_JWT_ISSUER: 'https://authz.example.com', UPSTREAM_JWT_ALGORITHM: 'ES256', UPSTREAM_JWT_TTL_SECONDS: '30', UPSTREAM_JWT_ALL: 'true', UPSTREAM_JWT_CACHE_MAX_ENTRIES: '20000' });
  type Secretish = { name: string; items: Array<{ key: string; path: string }> };
  type Pod = { volumes: Array<{ name: string; projected?: { sources: Array<{ secret: Secretish }> } }> };
  const sources = (podSpec(one(render(CHART, allFlags), 'Deployment')) as unknown as Pod).volumes.find((v) => v.name === 'secrets')!.projected!.sources.map((s) => s.secret);
  t.same(sources.find((s) => s.items[0]!.path === 'upstream-jwt-private-key.pem'), { name: 'saml-authz-upstream-jwt', items: [{ key: 'key.pem', path: 'upstream-jwt-private-key.pem' }] }, 'from an existing Secret and key');

  const refused: [name: string, set: Record<string, string>, setFile: Record<string, string>, message: string][] = [
    ['issuer without key', { ...config, 'config.upstreamJwt.issuer': 'https://authz.example.com' }, fromValues.setFile, 'secrets.upstreamJwtPrivateKey is required with config.upstreamJwt.issuer'],
    ['key without issuer', config, { ...fromValues.setFile, 'secrets.upstreamJwtPrivateKey.value': secrets.jwtPrivateKey }, 'config.upstreamJwt.issuer is required with secrets.upstreamJwtPrivateKey'],
    ['a public key as the key', { ...config, 'config.upstreamJwt.issuer': 'https://authz.example.com' }, { ...fromValues.setFile, 'secrets.upstreamJwtPrivateKey.value': secrets.jwtPublicKey }, 'secrets.upstreamJwtPrivateKey.value must be PEM (containing "PRIVATE KEY")'],
    ['all without a key', { ...config, 'config.upstreamJwt.all': 'true' }, fromValues.setFile, 'config.upstreamJwt.all needs secrets.upstreamJwtPrivateKey'],
  ];
  for (const [name, set, setFile, message] of refused) {
    const res = template(CHART, { set, setFile });
    t.not(res.status, 0, name);
    t.match(res.stderr, message, name);
  }
  t.not(template(CHART, { ...withKey, set: { ...withKey.set, 'config.upstreamJwt.ttlSeconds': '61' } }).status, 0, 'the schema refuses a TTL over 60');

  type Np = K8sObject & { spec: { ingress: Array<{ from: unknown[]; ports: unknown[] }> } };
  const np = one(render(CHART, allFlags), 'NetworkPolicy') as Np;
  t.same(np.spec.ingress.find((r) => JSON.stringify(r.from).includes('apps')), {
    from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'apps' } } }],
    ports: [{ port: 'http', protocol: 'TCP' }],
  }, 'JWKS clients reach the http port');
  t.equal((one(render(CHART, withKey), 'NetworkPolicy') as Np).spec.ingress.length, 2, 'no extra rule without jwksClients');

  const notes = renderNotes(CHART, { ...withKey, set: { ...withKey.set, 'config.jwt.jwksUrl': 'http://token-service.auth.svc.cluster.local/.well-known/jwks.json' } });
  t.match(notes, `nginx.ingress.kubernetes.io/auth-response-headers: "${[...HEADERS, 'X-Auth-Request-Jwt'].join(',')}"`);
  t.match(notes, `http://${FULL}.auth.svc.cluster.local:80/.well-known/jwks.json`);
  t.match(notes, 'list them in networkPolicy.jwksClients');
});
