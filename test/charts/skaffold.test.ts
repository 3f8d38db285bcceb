import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { helmBinary } from './helm.js';
import { render, repoRoot, template } from './render.js';
import { structuralProblems } from './k8s-check.js';
import { makeSecretFiles } from './fixtures.js';

interface Release {
  name: string;
  chartPath: string;
  namespace?: string;
  setValues?: Record<string, unknown>;
  setValueTemplates?: Record<string, string>;
  setFiles?: Record<string, string>;
}
interface Artifact {
  image: string;
  context?: string;
  docker?: { dockerfile?: string; target?: string };
}
interface SkaffoldConfig {
  apiVersion: string;
  kind: string;
  build: { artifacts: Artifact[] };
  deploy: { helm: { releases: Release[] } };
  profiles: Array<{
    name: string;
    activation?: Array<{ command?: string }>;
    deploy: { helm: { releases: Release[] } };
    portForward?: Array<{ resourceType: string; resourceName: string; namespace: string; port: number; localPort: number }>;
  }>;
}

const skaffold = parse(readFileSync(join(repoRoot, 'skaffold.yaml'), 'utf8')) as SkaffoldConfig;
const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
/** Skaffold's template key for an image: `/` and `-` become `_`. */
const key = (image: string) => image.replace(/[/-]/g, '_');

/** The two forms of Go template the file uses: {{.NAME}} and {{default "x" .NAME}}. */
function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\{\{\s*(?:default\s+"([^"]*)"\s+)?\.([A-Za-z0-9_]+)\s*\}\}/g, (_m, dflt: string | undefined, name: string) => {
    const v = vars[name];
    return v !== undefined && v !== '' ? v : (dflt ?? '');
  });
}

t.before(() => void helmBinary());

t.test('a v4beta config: artifacts come from Dockerfile targets, releases from charts that exist', async (t) => {
  t.match(skaffold.apiVersion, /^skaffold\/v4beta\d+$/);
  t.equal(skaffold.kind, 'Config');
  const targets = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);
  t.same(skaffold.build.artifacts.map((a) => a.image).sort(), ['saml-authz/authz-service', 'saml-authz/token-service']);
  for (const a of skaffold.build.artifacts) {
    t.equal(a.docker?.dockerfile, 'Dockerfile');
    t.ok(targets.includes(a.docker?.target), `${a.image}: target ${a.docker?.target} is a Dockerfile stage`);
    t.equal(a.image.split('/')[1], a.docker?.target, `${a.image}: built from its own target`);
  }
  const releaseSets = [skaffold.deploy.helm.releases, ...skaffold.profiles.map((p) => p.deploy.helm.releases)];
  for (const releases of releaseSets) {
    t.same(releases.map((r) => r.name).sort(), ['authz-service', 'token-service']);
    for (const r of releases) {
      const chart = parse(readFileSync(join(repoRoot, r.chartPath, 'Chart.yaml'), 'utf8')) as { name: string };
      t.equal(chart.name, r.name, `${r.name}: chartPath ${r.chartPath} holds chart ${r.name}`);
      const artifact = skaffold.build.artifacts.find((a) => a.image.endsWith(`/${r.name}`))!;
      t.same(
        { repo: r.setValueTemplates?.['image.repository'], tag: r.setValueTemplates?.['image.tag'] },
        {
          repo: `{{.IMAGE_REPO_${key(artifact.image)}}}`,
          tag: `{{.IMAGE_TAG_${key(artifact.image)}}}@{{.IMAGE_DIGEST_${key(artifact.image)}}}`,
        },
        `${r.name}: image from its artifact`,
      );
    }
  }
});

t.test('the dev profile is activated by `skaffold dev` and renders both charts, with port-forwards to real ports', async (t) => {
  const dev = skaffold.profiles.find((p) => p.name === 'dev')!;
  t.same(dev.activation, [{ command: 'dev' }]);
  const secrets = await makeSecretFiles();
  t.teardown(() => secrets.cleanup());
  const vars: Record<string, string> = { SAML_AUTHZ_DEV_DATABASE_URL: readFileSync(secrets.databaseUrl, 'utf8') };
  for (const a of skaffold.build.artifacts) {
    vars[`IMAGE_REPO_${key(a.image)}`] = `registry.example.com/${a.image}`;
    vars[`IMAGE_TAG_${key(a.image)}`] = 'abc1234';
    vars[`IMAGE_DIGEST_${key(a.image)}`] = `sha256:${'1'.repeat(64)}`;
  }
  const devFiles: Record<string, string> = {
    '.dev/k8s/jwt-private-key.pem': secrets.jwtPrivateKey,
    '.dev/k8s/idp-certificate.pem': secrets.idpCert,
  };
  const services: Record<string, Array<{ name: string; port: number }>> = {};
  for (const r of dev.deploy.helm.releases) {
    const set: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.setValues ?? {})) set[k] = String(v);
    for (const [k, v] of Object.entries(r.setValueTemplates ?? {})) set[k] = expand(v, vars);
    const setFile: Record<string, string> = {};
    for (const [k, path] of Object.entries(r.setFiles ?? {})) {
      t.ok(devFiles[path], `${r.name}: ${path} is a documented dev file`);
      setFile[k] = devFiles[path]!;
    }
    const o = { release: r.name, namespace: r.namespace ?? 'default', set, setFile };
    const objects = render(r.chartPath.replace('charts/', ''), o);
    t.same(structuralProblems(objects, `${r.name}`), [], `${r.name}: renders cleanly`);
    const deploy = objects.find((x) => x.kind === 'Deployment')!;
    const image = (deploy.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]!.image;
    t.equal(image, `registry.example.com/saml-authz/${r.name}:abc1234@sha256:${'1'.repeat(64)}`, `${r.name}: the built image`);
    for (const s of objects.filter((x) => x.kind === 'Service')) {
      services[`${s.metadata.namespace}/${s.metadata.name}`] = (s.spec as { ports: Array<{ name: string; port: number }> }).ports;
    }
    const noDb = template(r.chartPath.replace('charts/', ''), { ...o, set: { ...set, 'secrets.databaseUrl.value': '' } });
    t.match(noDb.stderr, 'secrets.databaseUrl is required', `${r.name}: without SAML_AUTHZ_DEV_DATABASE_URL the render says what is missing`);
  }
  t.ok(dev.portForward && dev.portForward.length >= 2);
  for (const pf of dev.portForward ?? []) {
    const ports = services[`${pf.namespace}/${pf.resourceName}`];
    t.ok(ports?.some((p) => p.port === pf.port), `port-forward ${pf.resourceName}:${pf.port} targets a rendered Service port`);
  }
  t.same(new Set(dev.portForward!.map((p) => p.localPort)).size, dev.portForward!.length, 'distinct local ports');
  t.ok(existsSync(join(repoRoot, '.gitignore')) && /^\.dev\/$/m.test(readFileSync(join(repoRoot, '.gitignore'), 'utf8')), 'the dev keys directory is git-ignored');
});
