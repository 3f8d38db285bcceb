import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { helmBinary } from './helm.js';
import { lint, one, render, template, type K8sObject, type RenderOptions } from './render.js';
import { structuralProblems } from './k8s-check.js';
import { makeSecretFiles } from './fixtures.js';
import { container, podSpec, podTemplateAnnotations } from './pod-asserts.js';
import { parseIdpsFile } from '../../services/token-service/idps/file.js';
import { spSettings } from '../../services/token-service/saml/config.js';

// Several IdPs (SAML_IDPS_FILE): config.saml.idps rendered into a ConfigMap mounted as a directory, or an
// existing ConfigMap; the single-IdP settings refused alongside; egress for metadata fetching.
const CHART = 'token-service';
const FULL = 'rel-token-service';
const IDPS_FILE = '/etc/saml-authz/idps/idps.yaml';

t.before(() => void helmBinary());
const secrets = await makeSecretFiles();
t.teardown(() => secrets.cleanup());
const cert = readFileSync(secrets.idpCert, 'utf8');
const base = {
  'config.saml.spEntityId': 'https://login.example.com/saml/metadata',
  'config.saml.acsUrl': 'https://login.example.com/saml/acs',
  'config.jwt.issuer': 'https://login.example.com',
  'config.jwt.audience': 'saml-authz',
};
const setFile = { 'secrets.databaseUrl.value': secrets.databaseUrl, 'secrets.jwtPrivateKeys.value': secrets.jwtPrivateKey };
const hospital = {
  name: 'hospital',
  entityId: 'https://idp.hospital.example/saml',
  displayName: "St Mary's Hospital",
  certificates: cert,
  ssoUrl: 'https://idp.hospital.example/sso',
  emailAttribute: 'mail',
};
const clinic = { name: 'clinic', entityId: 'https://clinic.example/idp', metadataUrl: 'https://clinic.example/idp/metadata', metadataRefreshSeconds: 3600 };

let n = 0;
/** Render options with config.saml.idps (and any other values) from a values file, as an operator writes it. */
function withIdps(idps: unknown[], extra: Record<string, unknown> = {}, set: Record<string, string> = {}): RenderOptions {
  const file = join(secrets.dir, `idps-${n++}.yaml`);
  writeFileSync(file, stringify({ config: { saml: { idps } }, ...extra }));
  return { values: [file], set: { ...base, ...set }, setFile };
}
const cmData = (objects: K8sObject[], name: string) => (one(objects, 'ConfigMap', name) as K8sObject & { data: Record<string, string> }).data;
type Np = K8sObject & { spec: { egress: Array<{ to?: unknown[]; ports: unknown[] }> } };

t.test('config.saml.idps: a ConfigMap with idps.yaml, mounted as a directory, SAML_IDPS_FILE set, no single-IdP settings', async (t) => {
  const o = withIdps([hospital, clinic]);
  const lintResult = lint(CHART, o);
  t.equal(lintResult.status, 0, `${lintResult.stdout}${lintResult.stderr}`);
  const objects = render(CHART, o);
  t.same(structuralProblems(objects), []);
  t.same(parse(cmData(objects, `${FULL}-idps`)['idps.yaml']!), [hospital, clinic], 'the list, verbatim');
  const env = cmData(objects, FULL);
  t.equal(env.SAML_IDPS_FILE, IDPS_FILE);
  t.notOk(['SAML_IDP_ISSUER', 'SAML_IDP_SSO_URL', 'SAML_IDP_SLO_URL'].some((k) => k in env), 'no single-IdP variables');
  const spec = podSpec(one(objects, 'Deployment'));
  const c = container(spec, 'token-service');
  t.same(c.volumeMounts?.find((m) => m.name === 'idps'), { name: 'idps', mountPath: '/etc/saml-authz/idps', readOnly: true }, 'a directory, not a subPath: kubelet updates reach the pod');
  t.same(spec.volumes.find((v) => v.name === 'idps'), { name: 'idps', configMap: { name: `${FULL}-idps`, items: [{ key: 'idps.yaml', path: 'idps.yaml' }] } });
  t.notOk(c.env?.some((e) => e.name === 'SAML_IDP_CERT_FILE'), 'no SAML_IDP_CERT_FILE');
  const secret = one(objects, 'Secret', FULL) as K8sObject & { data: Record<string, string> };
  t.notOk('idp-certificates.pem' in secret.data);
});

t.test('an IdPs edit changes no checksum (the service hot-reloads the file); switching to the file rolls the pods', async (t) => {
  const before = podTemplateAnnotations(one(render(CHART, withIdps([hospital, clinic])), 'Deployment'));
  const edited = render(CHART, withIdps([{ ...hospital, displayName: 'St Mary’s' }, clinic]));
  t.not(parse(cmData(edited, `${FULL}-idps`)['idps.yaml']!)[0].displayName, hospital.displayName, 'the ConfigMap changed');
  t.same(podTemplateAnnotations(one(edited, 'Deployment')), before, 'the pods did not');
  const single = render(CHART, {
    set: { ...base, 'config.saml.idpIssuer': 'http://www.okta.com/exk1', 'config.saml.idpSsoUrl': 'https://example.okta.com/sso' },
    setFile: { ...setFile, 'secrets.idpCertificates.value': secrets.idpCert },
  });
  t.not(podTemplateAnnotations(one(single, 'Deployment'))['checksum/config'], before['checksum/config'], 'SAML_IDPS_FILE appearing is a config change');
  t.notOk(single.some((o) => o.metadata.name === `${FULL}-idps`), 'one IdP: no IdPs ConfigMap');
  t.notOk(container(podSpec(one(single, 'Deployment')), 'token-service').volumeMounts?.some((m) => m.name === 'idps'));
});

t.test('config.saml.idpsExistingConfigMap: that ConfigMap and key are mounted, the chart renders none', async (t) => {
  const objects = render(CHART, { set: { ...base, 'config.saml.idpsExistingConfigMap.name': 'partner-idps', 'config.saml.idpsExistingConfigMap.key': 'idps-2026.yaml' }, setFile });
  t.notOk(objects.some((o) => o.metadata.name === `${FULL}-idps`));
  t.equal(cmData(objects, FULL).SAML_IDPS_FILE, '/etc/saml-authz/idps/idps-2026.yaml');
  t.same(podSpec(one(objects, 'Deployment')).volumes.find((v) => v.name === 'idps'), {
    name: 'idps',
    configMap: { name: 'partner-idps', items: [{ key: 'idps-2026.yaml', path: 'idps-2026.yaml' }] },
  });
  const np = one(objects, 'NetworkPolicy', FULL) as Np;
  t.equal(np.spec.egress.length, 2, 'the chart cannot read that file: no metadata egress unless asked');
  const forced = one(render(CHART, { set: { ...base, 'config.saml.idpsExistingConfigMap.name': 'partner-idps', 'networkPolicy.idpMetadata.enabled': 'true' }, setFile }), 'NetworkPolicy', FULL) as Np;
  t.same(forced.spec.egress[2], { ports: [{ port: 443, protocol: 'TCP' }] }, 'networkPolicy.idpMetadata.enabled=true');
});

t.test('NetworkPolicy: egress to the metadata URLs only when an IdP has a metadataUrl, narrowed by CIDRs and ports', async (t) => {
  const certsOnly = one(render(CHART, withIdps([hospital])), 'NetworkPolicy', FULL) as Np;
  t.equal(certsOnly.spec.egress.length, 2, 'certificates only: Postgres and DNS, nothing fetched');
  const fetched = one(render(CHART, withIdps([hospital, clinic])), 'NetworkPolicy', FULL) as Np;
  t.same(fetched.spec.egress[2], { ports: [{ port: 443, protocol: 'TCP' }] }, 'any address on 443 by default');
  const narrow = one(render(CHART, withIdps([clinic], { networkPolicy: { idpMetadata: { cidrs: ['198.51.100.7/32'], ports: [443, 8443] } } })), 'NetworkPolicy', FULL) as Np;
  t.same(narrow.spec.egress[2], {
    ports: [{ port: 443, protocol: 'TCP' }, { port: 8443, protocol: 'TCP' }],
    to: [{ ipBlock: { cidr: '198.51.100.7/32' } }],
  });
  const off = one(render(CHART, withIdps([clinic], { networkPolicy: { idpMetadata: { enabled: false } } })), 'NetworkPolicy', FULL) as Np;
  t.equal(off.spec.egress.length, 2, 'networkPolicy.idpMetadata.enabled=false');
});

t.test('IdPs and the single-IdP settings together, and malformed entries, fail with every message at once', async (t) => {
  const mixed = withIdps([hospital], {}, { 'config.saml.idpIssuer': 'http://www.okta.com/exk1', 'config.saml.idpSsoUrl': 'https://example.okta.com/sso', 'config.saml.idpSloUrl': 'https://example.okta.com/slo' });
  const r = template(CHART, { ...mixed, setFile: { ...setFile, 'secrets.idpCertificates.value': secrets.idpCert } });
  t.not(r.status, 0);
  for (const message of [
    'config.saml.idpIssuer (SAML_IDP_ISSUER) describes the single IdP and must not be set with several IdPs',
    'config.saml.idpSsoUrl (SAML_IDP_SSO_URL) describes the single IdP',
    'config.saml.idpSloUrl (SAML_IDP_SLO_URL) describes the single IdP',
    'secrets.idpCertificates (SAML_IDP_CERT) describes the single IdP and must not be set with several IdPs',
  ]) t.match(r.stderr, message);
  t.match(r.stderr, /\(5 problems\)/, 'and the SLO URL without a signing key: five, listed together');

  const rows: Array<[string, unknown[], string]> = [
    ['both certificates and metadataUrl', [{ ...hospital, metadataUrl: 'https://idp.hospital.example/metadata' }], 'config.saml.idps[0] (hospital): set either certificates or metadataUrl, not both'],
    ['neither', [{ name: 'bare', entityId: 'https://bare.example', ssoUrl: 'https://bare.example/sso' }], 'config.saml.idps[0] (bare): set certificates (PEM) or metadataUrl'],
    ['a duplicate name', [hospital, { ...clinic, name: 'hospital' }], 'config.saml.idps[1] (hospital): the name "hospital" is used twice'],
    ['certificates that are not PEM', [{ ...hospital, certificates: 'MIIC...' }], 'config.saml.idps[0] (hospital): certificates must be PEM'],
    ['certificates without ssoUrl', [{ name: 'h', entityId: 'https://h.example', certificates: cert }], 'config.saml.idps[0] (h): ssoUrl is required with certificates'],
    ['an sloUrl without the SP signing key', [{ ...hospital, sloUrl: 'https://idp.hospital.example/slo' }], 'config.saml.idps[0] (hospital): sloUrl (SAML Single Logout) needs secrets.spSigningKey'],
  ];
  for (const [name, idps, message] of rows) {
    const res = template(CHART, withIdps(idps));
    t.not(res.status, 0, `${name}: refused`);
    t.match(res.stderr, message, `${name}: says why`);
  }
  const both = template(CHART, withIdps([hospital], {}, { 'config.saml.idpsExistingConfigMap.name': 'partner-idps' }));
  t.match(both.stderr, 'set either config.saml.idps (the IdPs inline) or config.saml.idpsExistingConfigMap.name');
});

t.test('the schema refuses unknown IdP fields, a bad name and a metadataUrl that is not https', async (t) => {
  const rows: Array<[string, unknown[], RegExp]> = [
    ['an unknown field', [{ ...hospital, issuer: 'x' }], /Additional property issuer is not allowed/],
    ['an upper-case name', [{ ...hospital, name: 'Hospital' }], /name/],
    ['http metadata', [{ ...clinic, metadataUrl: 'http://clinic.example/idp/metadata' }], /metadataUrl/],
    ['no entityId', [{ name: 'x', certificates: cert, ssoUrl: 'https://x.example/sso' }], /entityId/],
  ];
  for (const [name, idps, message] of rows) {
    const res = template(CHART, withIdps(idps));
    t.not(res.status, 0, `${name}: refused`);
    t.match(res.stderr, message, `${name}: names the field`);
  }
});

t.test('the rendered idps.yaml is a file the token-service accepts (certificates as one text or a list)', async (t) => {
  const objects = render(CHART, withIdps([{ ...hospital, certificates: [cert] }, clinic]));
  const text = cmData(objects, `${FULL}-idps`)['idps.yaml']!;
  const sp = spSettings({ spEntityId: base['config.saml.spEntityId'], acsUrl: base['config.saml.acsUrl'] });
  const parsed = parseIdpsFile(text, sp, {});
  t.same('entries' in parsed ? parsed.entries.map((e) => [e.name, e.entityId, e.source.kind]) : parsed.problems, [
    ['hospital', hospital.entityId, 'certificates'],
    ['clinic', clinic.entityId, 'metadata'],
  ]);
});
