import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';
import { requireBinary } from '../helpers/binaries.js';
import { freePort } from '../../services/shared/embedded-postgres.js';
import { serve } from '../../services/shared/server.js';

const LISTEN = { host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, shutdownDelaySeconds: 0, shutdownTimeoutSeconds: 5 };

/** Metric names a /metrics body exports (histograms and summaries with their series suffixes). */
function exportedNames(body: string): Set<string> {
  const names = new Set<string>();
  for (const m of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** Our metric names an expression refers to (PromQL functions and labels are not ours). */
function referencedNames(expr: string): string[] {
  return [...new Set(expr.match(/\b(?:http|authz|token|saml|sessions?|db|process|nodejs)_[a-zA-Z0-9_]+/g) ?? [])];
}

t.test('a real Prometheus scrapes both services; rules and dashboard refer only to exported metrics', async (t) => {
  const prometheus = requireBinary(t, 'prometheus', 'prometheus');
  const promtool = requireBinary(t, 'promtool', 'prometheus');
  if (!prometheus || !promtool) return;

  const db = await withDb(t);
  const tokens = await buildTokenService(t, { databaseUrl: db.url });
  const authz = await buildAuthz(t, { databaseUrl: db.url, keys: [tokens.jwtKey] });
  const tokenRun = await serve(tokens.app, LISTEN);
  const authzRun = await serve(authz.app, LISTEN);
  t.teardown(() => Promise.all([tokenRun.shutdown('end'), authzRun.shutdown('end')]));

  // The scenario: one token issued, one SAML response refused, allowed, denied and anonymous requests.
  const issued = await postAcs(tokens.app, (await tokens.sign({ groups: ['staff'] })).samlResponse);
  t.equal(issued.statusCode, 200);
  t.equal((await postAcs(tokens.app, (await tokens.sign({ sign: 'none' })).samlResponse)).statusCode, 401);
  const token = issued.json().access_token as string;
  const ask = (uri: string, withToken: boolean) =>
    fetch(`http://127.0.0.1:${authzRun.port}/auth`, {
      headers: { 'x-original-uri': uri, 'x-original-method': 'GET', host: 'app.example.com', ...(withToken ? { authorization: `Bearer ${token}` } : {}) },
    });
  for (let i = 0; i < 3; i++) t.equal((await ask('/app/x', true)).status, 200);
  t.equal((await ask('/app/secrets/x', true)).status, 403);
  t.equal((await ask('/app/x', false)).status, 401);

  const dir = await mkdtemp(join(tmpdir(), 'prometheus-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  await writeFile(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [${JSON.stringify(join(process.cwd(), 'observability', 'prometheus-rules.yaml'))}]
scrape_configs:
  - job_name: token-service
    static_configs: [{ targets: ["127.0.0.1:${tokenRun.metricsPort}"] }]
  - job_name: authz-service
    static_configs: [{ targets: ["127.0.0.1:${authzRun.metricsPort}"] }]
`,
  );
  const child = spawn(prometheus, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
  });

  const api = `http://127.0.0.1:${port}/api/v1`;
  const query = async (q: string) => {
    const res = await fetch(`${api}/query?query=${encodeURIComponent(q)}`);
    return (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  };
  const until = async (q: string, pred: (v: number) => boolean) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const r = await query(q);
        const v = Number(r.data?.result?.[0]?.value?.[1]);
        if (pred(v)) return v;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${q}; prometheus said: ${stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  t.equal(await until('sum(up)', (v) => v === 2), 2, 'both targets up');
  t.equal(await until('sum(authz_decisions_total{outcome="allow"})', (v) => v >= 3), 3, 'allow decisions read back through the API');
  t.equal(await until('sum(authz_decisions_total{outcome="deny",reason="explicit_deny"})', (v) => v >= 1), 1);
  t.equal(await until('sum(authz_decisions_total{outcome="unauthenticated",reason="no_token"})', (v) => v >= 1), 1);
  t.equal(await until('sum(token_issued_total)', (v) => v >= 1), 1);
  t.equal(await until('sum(saml_rejected_total{reason="unsigned"})', (v) => v >= 1), 1);
  t.equal(await until('min(db_up)', (v) => v === 1), 1);
  t.equal(await until('min(authz_revocation_listener_up)', (v) => v === 1), 1);

  // promtool on both endpoints and on the rules file.
  const bodies = await Promise.all([tokenRun.metricsPort, authzRun.metricsPort].map(async (p) => (await fetch(`http://127.0.0.1:${p}/metrics`)).text()));
  for (const [i, body] of bodies.entries()) {
    const check = spawnSync(promtool, ['check', 'metrics'], { input: body, encoding: 'utf8' });
    t.equal(check.status, 0, `promtool check metrics (${i === 0 ? 'token' : 'authz'}-service): ${check.stdout}${check.stderr}`);
  }
  const rulesCheck = spawnSync(promtool, ['check', 'rules', 'observability/prometheus-rules.yaml'], { encoding: 'utf8' });
  t.equal(rulesCheck.status, 0, `promtool check rules: ${rulesCheck.stdout}${rulesCheck.stderr}`);

  // Every expression in the rules and the dashboard: valid PromQL, and only metrics the services export.
  const exported = new Set([...exportedNames(bodies[0]!), ...exportedNames(bodies[1]!)]);
  const rules = parseYaml(await readFile('observability/prometheus-rules.yaml', 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const dashboard = JSON.parse(await readFile('observability/grafana-dashboard.json', 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
  const expressions = [
    ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr }))),
    ...dashboard.panels.flatMap((p) => p.targets.map((x) => ({ where: `panel "${p.title}"`, expr: x.expr.replaceAll('$__rate_interval', '1m') }))),
  ];
  t.ok(expressions.length > 20, `${expressions.length} expressions checked`);
  for (const { where, expr } of expressions) {
    const names = referencedNames(expr);
    t.ok(names.length > 0, `${where} refers to a saml-authz metric`);
    const missing = names.filter((n) => !exported.has(n));
    t.same(missing, [], `${where}: every metric is exported`);
    const result = await query(expr);
    t.equal(result.status, 'success', `${where}: Prometheus evaluates it ${result.error ?? ''}`);
  }
});
