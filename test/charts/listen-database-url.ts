/** The `secrets.listenDatabaseUrl` assertions both charts share (LISTEN_DATABASE_URL for a pooled DATABASE_URL). */
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { one, render, template, type K8sObject, type RenderOptions } from './render.js';
import { container, podSpec } from './pod-asserts.js';

interface Chart {
  chart: string;
  /** the rendered full name for release `rel` */
  full: string;
  /** the service's container name */
  containerName: string;
  /** renders with every required secret given as a value */
  fromValues: RenderOptions & { set: Record<string, string>; setFile: Record<string, string> };
  /** the CI values with every flag on, listenDatabaseUrl from an existing Secret */
  allFlags: RenderOptions;
  /** a file holding a postgres:// URL */
  databaseUrlFile: string;
}

type SecretSource = { name: string; items: Array<{ key: string; path: string }> };
type Pod = { volumes: Array<{ name: string; projected?: { sources: Array<{ secret: SecretSource }> } }> };

export function expectListenDatabaseUrl(t: Test, c: Chart): void {
  const sources = (objects: K8sObject[]) => (podSpec(one(objects, 'Deployment')) as unknown as Pod).volumes.find((v) => v.name === 'secrets')!.projected!.sources.map((s) => s.secret);
  const env = (objects: K8sObject[]) => container(podSpec(one(objects, 'Deployment')), c.containerName).env ?? [];
  const withListen = { ...c.fromValues, setFile: { ...c.fromValues.setFile, 'secrets.listenDatabaseUrl.value': c.databaseUrlFile } };
  const objects = render(c.chart, withListen);
  t.same(env(objects).find((e) => e.name === 'LISTEN_DATABASE_URL_FILE'), { name: 'LISTEN_DATABASE_URL_FILE', value: '/var/run/secrets/saml-authz/listen-database-url' });
  const secret = one(objects, 'Secret', c.full) as K8sObject & { data: Record<string, string> };
  t.equal(Buffer.from(secret.data['listen-database-url']!, 'base64').toString(), readFileSync(c.databaseUrlFile, 'utf8'), 'kept in the chart Secret');
  t.same(sources(objects).find((s) => s.items[0]!.path === 'listen-database-url'), { name: c.full, items: [{ key: 'listen-database-url', path: 'listen-database-url' }] });
  t.notOk(env(render(c.chart, c.fromValues)).some((e) => e.name === 'LISTEN_DATABASE_URL_FILE'), 'absent unless given');
  t.same(sources(render(c.chart, c.allFlags)).find((s) => s.items[0]!.path === 'listen-database-url'), { name: 'saml-authz-database', items: [{ key: 'direct-url', path: 'listen-database-url' }] }, 'from an existing Secret and key');
  const bad = template(c.chart, { ...c.fromValues, set: { ...c.fromValues.set, 'secrets.listenDatabaseUrl.value': 'mysql://db.example.internal/x' } });
  t.not(bad.status, 0);
  t.match(bad.stderr, 'secrets.listenDatabaseUrl.value must be a postgres:// or postgresql:// URL');
  const both = template(c.chart, { ...withListen, set: { ...c.fromValues.set, 'secrets.listenDatabaseUrl.existingSecret': 'x' } });
  t.not(both.status, 0);
  t.match(both.stderr, 'secrets.listenDatabaseUrl: set either secrets.listenDatabaseUrl.value or secrets.listenDatabaseUrl.existingSecret, not both');
}
