import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RULE_KEYS } from '../../services/authz-service/policy/parse.js';
import { IDP_KEYS } from '../../services/token-service/idps/file.js';
import { chartDir } from './render.js';

// values.yaml, its `## @param` documentation and values.schema.json must describe the same tree, and
// the schema must be closed (additionalProperties: false) wherever it lists properties. A keyword typo
// would silently disable validation, so only known keywords are accepted.
const KEYWORDS = new Set([
  '$schema', 'title', 'description', 'type', 'properties', 'additionalProperties', 'required', 'items', 'enum',
  'const', 'pattern', 'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'contains', 'not', 'default',
]);
type Schema = { [k: string]: unknown; properties?: Record<string, Schema>; additionalProperties?: boolean | Schema; items?: Schema };

function schemaProblems(s: Schema, path: string, out: string[]): void {
  for (const k of Object.keys(s)) if (!KEYWORDS.has(k)) out.push(`${path || '(root)'}: unknown keyword "${k}"`);
  const types = ([] as unknown[]).concat(s.type ?? []);
  if (s.properties) {
    if (!types.includes('object')) out.push(`${path}: properties without type object`);
    if (s.additionalProperties !== false) out.push(`${path || '(root)'}: object without additionalProperties: false`);
    for (const [k, v] of Object.entries(s.properties)) schemaProblems(v, path ? `${path}.${k}` : k, out);
  }
  if (typeof s.additionalProperties === 'object') schemaProblems(s.additionalProperties, `${path}.*`, out);
  if (s.items) schemaProblems(s.items, `${path}[]`, out);
  if (s.not) schemaProblems(s.not as Schema, `${path}(not)`, out);
}

/** Every path of values.yaml as its keys (objects are walked; lists and scalars are leaves). */
function valuePaths(v: unknown, path: string[] = []): string[][] {
  const here = path.length > 0 ? [path] : [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return here;
  return [...here, ...Object.entries(v).flatMap(([k, x]) => valuePaths(x, [...path, k]))];
}

function schemaAt(s: Schema, path: string[]): Schema | undefined {
  let node: Schema | undefined = s;
  for (const part of path) {
    const next: Schema | undefined = node?.properties?.[part] ?? (typeof node?.additionalProperties === 'object' ? node.additionalProperties : undefined);
    node = next;
  }
  return node;
}

for (const chart of ['token-service', 'authz-service']) {
  t.test(`${chart}: values.yaml, @param docs and values.schema.json agree`, async (t) => {
    const text = readFileSync(join(chartDir(chart), 'values.yaml'), 'utf8');
    const values = parse(text) as Record<string, unknown>;
    const schema = JSON.parse(readFileSync(join(chartDir(chart), 'values.schema.json'), 'utf8')) as Schema;

    const problems: string[] = [];
    schemaProblems(schema, '', problems);
    t.same(problems, [], 'the schema is closed and uses known keywords only');

    const documented = new Set([...text.matchAll(/^\s*## @param (\S+) \S/gm)].map((m) => m[1]!));
    const keyPaths = valuePaths(values);
    const paths = keyPaths.map((p) => p.join('.'));
    for (const p of documented) t.ok(paths.includes(p), `@param ${p} names a value`);
    const undocumented = paths.filter((p) => ![...documented].some((d) => p === d || p.startsWith(`${d}.`)) && !paths.some((q) => q.startsWith(`${p}.`)));
    t.same(undocumented, [], 'every value (or an ancestor) has a ## @param line');

    const missing = keyPaths.filter((p) => schemaAt(schema, p) === undefined).map((p) => p.join('.'));
    t.same(missing, [], 'every value has a schema');
    // Helm adds an (empty) entry for each dependency's values: the library chart has a schema entry, no value.
    const stale = Object.keys(schema.properties ?? {}).filter((k) => !(k in values) && k !== 'saml-authz-common');
    t.same(stale, [], 'every top-level schema property is a value');
  });
}

t.test('authz-service: policy.rules in the schema takes exactly the keys the policy parser knows', async (t) => {
  const schema = JSON.parse(readFileSync(join(chartDir('authz-service'), 'values.schema.json'), 'utf8')) as Schema;
  const rule = schemaAt(schema, ['policy', 'rules'])?.items;
  t.same(Object.keys(rule?.properties ?? {}).sort(), [...RULE_KEYS].sort(), 'a key the chart refuses cannot be written inline; one it accepts must parse');
});

t.test('token-service: config.saml.idps in the schema takes exactly the keys SAML_IDPS_FILE knows', async (t) => {
  const schema = JSON.parse(readFileSync(join(chartDir('token-service'), 'values.schema.json'), 'utf8')) as Schema;
  const idp = schemaAt(schema, ['config', 'saml', 'idps'])?.items;
  t.same(Object.keys(idp?.properties ?? {}).sort(), [...IDP_KEYS].sort(), 'a key the chart refuses cannot be written inline; one it accepts must parse');
});
