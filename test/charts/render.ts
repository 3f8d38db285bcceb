/**
 * Rendering the charts with the real helm binary, and reading what it rendered.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { helm, type HelmResult } from './helm.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const chartDir = (chart: string) => join(repoRoot, 'charts', chart);
export const ciValues = (chart: string, name: string) => join(chartDir(chart), 'ci', name);

/** A rendered Kubernetes object (only the fields the tests read are typed). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface RenderOptions {
  values?: string[];
  set?: Record<string, string>;
  setFile?: Record<string, string>;
  release?: string;
  namespace?: string;
  extraArgs?: string[];
}

function valueArgs(o: RenderOptions): string[] {
  const args: string[] = [];
  for (const v of o.values ?? []) args.push('-f', v);
  for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set', `${k}=${v}`);
  for (const [k, v] of Object.entries(o.setFile ?? {})) args.push('--set-file', `${k}=${v}`);
  return args;
}

/** `helm template`: the raw result (for failure messages). */
export function template(chart: string, o: RenderOptions = {}): HelmResult {
  return helm([
    'template',
    o.release ?? 'rel',
    chartDir(chart),
    '--namespace',
    o.namespace ?? 'auth',
    ...valueArgs(o),
    ...(o.extraArgs ?? []),
  ]);
}

/** `helm template`, parsed into objects; throws with helm's message when the render fails. */
export function render(chart: string, o: RenderOptions = {}): K8sObject[] {
  const r = template(chart, o);
  if (r.status !== 0) throw new Error(`helm template ${chart} failed: ${r.stderr}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML rendered: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) out.push(value);
  }
  return out;
}

export function lint(chart: string, o: RenderOptions = {}): HelmResult {
  return helm(['lint', '--strict', chartDir(chart), '--namespace', o.namespace ?? 'auth', ...valueArgs(o)]);
}

/**
 * NOTES.txt as `helm install` would print it. `helm install --dry-run` needs a cluster, so the chart is
 * copied and NOTES.txt is rendered by the real helm engine through a template that includes it.
 */
export function renderNotes(chart: string, o: RenderOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'saml-authz-notes-'));
  try {
    const copy = join(dir, chart);
    cpSync(chartDir(chart), copy, { recursive: true, dereference: true }); // charts/saml-authz-common is a symlink
    const notes = readFileSync(join(copy, 'templates', 'NOTES.txt'), 'utf8');
    writeFileSync(
      join(copy, 'templates', 'zz-notes.yaml'),
      `{{- define "zz.notes" }}${notes}{{ end -}}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "zz.notes" . | toJson }}\n`,
    );
    const r = helm([
      'template',
      o.release ?? 'rel',
      copy,
      '--namespace',
      o.namespace ?? 'auth',
      '--show-only',
      'templates/zz-notes.yaml',
      ...valueArgs(o),
    ]);
    if (r.status !== 0) throw new Error(`rendering NOTES.txt failed: ${r.stderr}`);
    const [cm] = parseManifests(r.stdout) as Array<K8sObject & { data: { notes: string } }>;
    return cm!.data.notes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The one object of a kind (and name, when given); throws when absent or ambiguous. */
export function one<T = K8sObject>(objects: K8sObject[], kind: string, name?: string): T & K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as T & K8sObject;
}

export const kinds = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
