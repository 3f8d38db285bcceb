import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { helmBinary } from './helm.js';
import { chartDir, ciValues, lint, render, repoRoot, template, type K8sObject, type RenderOptions } from './render.js';
import { structuralProblems } from './k8s-check.js';

// The alert rules and the dashboard exist twice: as plain files under observability/ (promtool, the
// Prometheus test, operators without the Operator) and as copies inside the charts, which cannot read
// files outside themselves. These tests keep the copies equal to the plain files, through the render.

type RuleGroup = { name: string; rules: Array<{ alert: string; annotations?: Record<string, string> }> };
type Rule = K8sObject & { spec: { groups: RuleGroup[] } };
type Cm = K8sObject & { data: Record<string, string> };

const plainRulesText = readFileSync(join(repoRoot, 'observability', 'prometheus-rules.yaml'), 'utf8');
const plainRules = parse(plainRulesText) as { groups: RuleGroup[] };
const plainDashboard = readFileSync(join(repoRoot, 'observability', 'grafana-dashboard.json'));

const authz = { values: [ciValues('authz-service', 'jwks-values.yaml')] };
const token = { values: [ciValues('token-service', 'existing-secrets-values.yaml')] };
const withSet = (o: RenderOptions, set: Record<string, string>): RenderOptions => ({ ...o, set: { ...o.set, ...set } });
const rulesOn = { 'prometheusRule.enabled': 'true' };
const dashboardOn = { 'grafanaDashboard.enabled': 'true' };

const prometheusRules = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'PrometheusRule') as Rule[];
const dashboards = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard')) as Cm[];

t.before(() => void helmBinary());

t.test('no PrometheusRule and no dashboard ConfigMap by default', async (t) => {
  for (const [chart, o] of [['authz-service', authz], ['token-service', token]] as const) {
    const objects = render(chart, o);
    t.same(prometheusRules(objects), [], `${chart}: no PrometheusRule`);
    t.same(dashboards(objects), [], `${chart}: no dashboard ConfigMap`);
  }
});

t.test('each chart renders a PrometheusRule with its own groups when prometheusRule.enabled', async (t) => {
  for (const [chart, o, groups] of [
    ['authz-service', authz, ['saml-authz-authz']],
    ['token-service', token, ['saml-authz-token', 'saml-authz-database']],
  ] as const) {
    const objects = render(chart, withSet(o, { ...rulesOn, 'prometheusRule.labels.release': 'kube-prometheus-stack' }));
    t.same(structuralProblems(objects), [], `${chart}: no structural problems`);
    const [rule, ...rest] = prometheusRules(objects);
    t.equal(rest.length, 0, `${chart}: one PrometheusRule`);
    t.equal(rule!.apiVersion, 'monitoring.coreos.com/v1');
    t.equal(rule!.metadata.name, `rel-${chart}`);
    t.equal(rule!.metadata.namespace, 'auth', `${chart}: the release's namespace by default`);
    t.match(rule!.metadata.labels, {
      'app.kubernetes.io/name': chart,
      'app.kubernetes.io/instance': 'rel',
      'app.kubernetes.io/part-of': 'saml-authz',
      release: 'kube-prometheus-stack',
    });
    t.same(rule!.spec.groups.map((g) => g.name), groups);
    const elsewhere = prometheusRules(render(chart, withSet(o, { ...rulesOn, 'prometheusRule.namespace': 'monitoring' })));
    t.equal(elsewhere[0]!.metadata.namespace, 'monitoring', `${chart}: prometheusRule.namespace`);
  }
});

t.test('the groups rendered by the two charts are exactly observability/prometheus-rules.yaml', async (t) => {
  const authzRule = prometheusRules(render('authz-service', withSet(authz, rulesOn)))[0]!;
  const tokenRule = prometheusRules(render('token-service', withSet(token, rulesOn)))[0]!;
  t.same(Object.keys(authzRule.spec), ['groups']);
  t.same(Object.keys(tokenRule.spec), ['groups']);
  t.strictSame({ groups: [...authzRule.spec.groups, ...tokenRule.spec.groups] }, plainRules);

  // Prometheus's own templates pass through Helm untouched (no tpl).
  const summary = (rule: Rule, alert: string) =>
    rule.spec.groups.flatMap((g) => g.rules).find((r) => r.alert === alert)?.annotations?.summary;
  t.equal(
    summary(authzRule, 'AuthzRevocationListenerDown'),
    'authz-service {{ $labels.instance }} is not listening for revocations: every /auth is looked up in Postgres until it is back (slower, still correct)',
  );
  t.match(summary(tokenRule, 'SamlAuthzDatabaseUnreachable'), /^\{\{ \$labels\.instance \}\} cannot reach Postgres/);
  const literal = (text: string) => text.split('{{ $labels.instance }}').length - 1;
  const rendered = template('authz-service', withSet(authz, rulesOn)).stdout + template('token-service', withSet(token, rulesOn)).stdout;
  t.equal(literal(rendered), literal(plainRulesText), 'every {{ $labels.instance }} of the plain file is rendered literally');
});

t.test('the authz chart renders the Grafana dashboard ConfigMap, byte for byte the plain file', async (t) => {
  t.ok(readFileSync(join(chartDir('authz-service'), 'files', 'grafana-dashboard.json')).equals(plainDashboard), 'the chart copy equals observability/grafana-dashboard.json');

  const objects = render('authz-service', withSet(authz, dashboardOn));
  t.same(structuralProblems(objects), [], 'no structural problems');
  const [cm, ...rest] = dashboards(objects);
  t.equal(rest.length, 0, 'one dashboard ConfigMap');
  t.equal(cm!.apiVersion, 'v1');
  t.equal(cm!.metadata.name, 'rel-authz-service-dashboard');
  t.equal(cm!.metadata.namespace, 'auth');
  t.match(cm!.metadata.labels, { grafana_dashboard: '1', 'app.kubernetes.io/name': 'authz-service', 'app.kubernetes.io/instance': 'rel' });
  t.same(Object.keys(cm!.data), ['saml-authz.json']);
  t.equal(cm!.data['saml-authz.json'], plainDashboard.toString('utf8'), 'the rendered JSON is the plain file, byte for byte');
  t.equal((JSON.parse(cm!.data['saml-authz.json']!) as { uid: string }).uid, 'saml-authz');

  const custom = dashboards(render('authz-service', withSet(authz, {
    ...dashboardOn,
    'grafanaDashboard.namespace': 'monitoring',
    'grafanaDashboard.labels.grafana_dashboard': 'null',
    'grafanaDashboard.labels.dashboards': 'saml-authz',
  })))[0]!;
  t.equal(custom.metadata.namespace, 'monitoring');
  t.equal(custom.metadata.labels?.dashboards, 'saml-authz');
  t.notOk('grafana_dashboard' in (custom.metadata.labels ?? {}), 'the default sidecar label can be removed with null');
});

t.test('every flag on: lint --strict passes and the ci values render the rules and the dashboard', async (t) => {
  for (const chart of ['authz-service', 'token-service']) {
    const o = { values: [ciValues(chart, 'all-flags-values.yaml')] };
    const r = lint(chart, o);
    t.equal(r.status, 0, `${chart}: ${r.stdout}${r.stderr}`);
    t.notMatch(r.stdout, /\[(WARNING|ERROR)\]/, `${chart}: no lint warnings`);
    const objects = render(chart, o);
    t.equal(prometheusRules(objects).length, 1, `${chart}: PrometheusRule from ci/all-flags-values.yaml`);
    t.equal(dashboards(objects).length, chart === 'authz-service' ? 1 : 0, `${chart}: dashboard ConfigMap only in the authz chart`);
  }
});

t.test('the schema rejects unknown keys under prometheusRule and grafanaDashboard, and a dashboard in the token chart', async (t) => {
  for (const [chart, o, key] of [
    ['authz-service', authz, 'prometheusRule.rules'],
    ['authz-service', authz, 'grafanaDashboard.folder'],
    ['token-service', token, 'prometheusRule.rules'],
    ['token-service', token, 'grafanaDashboard.enabled'],
  ] as const) {
    const r = template(chart, withSet(o, { [key]: 'x' }));
    t.not(r.status, 0, `${chart}: ${key} is rejected`);
    t.match(r.stderr, /Additional property \S+ is not allowed/, `${chart}: ${key}: schema message`);
  }
  const ns = template('authz-service', withSet(authz, { ...dashboardOn, 'grafanaDashboard.namespace': 'Not_A_Namespace' }));
  t.not(ns.status, 0, 'a namespace that is not a DNS label is rejected');
});
