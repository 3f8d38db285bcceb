/**
 * Policy YAML → validated {@link Policy}. Every problem is reported at once, each naming its rule
 * (`rule "admin-console" (#2): paths[1] "/a*b": ...`). Unknown keys are errors: the format may grow,
 * and a key this version does not know must never be silently ignored.
 */
import { METHODS } from 'node:http';
import { parseDocument } from 'yaml';
import { parseCidr } from '../../shared/cidr.js';
import { parseHostPattern, parsePathPattern } from './patterns.js';
import { CONDITION_KEYS, hasIdentityConditions, ruleLabel } from './types.js';
import type { ConditionKey, Effect, Policy, Rule } from './types.js';

export type PolicyParseResult = { ok: true; policy: Policy } | { ok: false; problems: string[] };

const ID = /^[A-Za-z0-9._-]{1,64}$/;
/** The methods Node's HTTP parser knows (what can reach /auth); a rule naming another never matches. */
const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);
const TOP_KEYS = ['version', 'rules'];
/** Every key a rule may have (the chart's values.schema.json lists the same). */
export const RULE_KEYS = ['id', 'effect', 'public', 'paths', 'methods', 'hosts', ...CONDITION_KEYS, 'upstreamJwt', 'audience'];
/** An assertion audience: visible ASCII without spaces, like a host name or a URI. */
const AUDIENCE = /^[\x21-\x7e]{1,256}$/;

export function parsePolicy(text: string): PolicyParseResult {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) return { ok: false, problems: doc.errors.map((e) => `YAML: ${e.message}`) };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, problems: [`YAML: ${err instanceof Error ? err.message : String(err)}`] };
  }
  return validatePolicy(value);
}

/** Validates an already-parsed document (what YAML or JSON gave). */
export function validatePolicy(value: unknown): PolicyParseResult {
  const problems: string[] = [];
  if (!isRecord(value)) return { ok: false, problems: ['the policy must be a mapping with a "rules" list'] };
  for (const key of Object.keys(value)) {
    if (!TOP_KEYS.includes(key)) problems.push(`unknown top-level key "${key}" (known: ${TOP_KEYS.join(', ')})`);
  }
  if (value.version !== undefined && value.version !== 1) problems.push('version: must be 1');
  const rules: Rule[] = [];
  if (!Array.isArray(value.rules)) problems.push('rules: required, a list of rules');
  else {
    const seen = new Map<string, number>();
    value.rules.forEach((raw: unknown, i: number) => {
      const rule = validateRule(raw, i + 1, problems);
      if (!rule) return;
      const first = seen.get(rule.id);
      if (first !== undefined) problems.push(`${ruleLabel(rule)}: id: duplicate of rule #${first}`);
      else seen.set(rule.id, rule.index);
      rules.push(rule);
    });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, policy: { version: 1, rules } };
}

function validateRule(raw: unknown, index: number, problems: string[]): Rule | null {
  if (!isRecord(raw)) {
    problems.push(`rule #${index}: must be a mapping`);
    return null;
  }
  const idOk = typeof raw.id === 'string' && ID.test(raw.id);
  const label = idOk ? ruleLabel({ id: raw.id as string, index }) : `rule #${index}`;
  const before = problems.length;
  const problem = (msg: string) => problems.push(`${label}: ${msg}`);
  if (raw.id === undefined) problem('id: required');
  else if (!idOk) problem(`id: ${JSON.stringify(raw.id)} must be 1–64 of A-Z a-z 0-9 . _ -`);
  for (const key of Object.keys(raw)) {
    if (!RULE_KEYS.includes(key)) problem(`unknown key "${key}" (known: ${RULE_KEYS.join(', ')})`);
  }
  const effect = raw.effect;
  if (effect !== 'allow' && effect !== 'deny') problem('effect: required, "allow" or "deny"');
  if (raw.public !== undefined && typeof raw.public !== 'boolean') problem('public: must be true or false');
  const isPublic = raw.public === true;
  if (isPublic && effect === 'deny') problem('public: only an allow rule can be public');

  if (raw.upstreamJwt !== undefined && typeof raw.upstreamJwt !== 'boolean') problem('upstreamJwt: must be true or false');
  const upstreamJwt = raw.upstreamJwt === true;
  let audience: string | null = null;
  if (raw.audience !== undefined) {
    if (typeof raw.audience !== 'string' || !AUDIENCE.test(raw.audience)) problem('audience: must be 1–256 visible ASCII characters (a host name or a URI), no spaces');
    else audience = raw.audience;
  }
  // The assertion vouches for a signed-in user: a deny grants nothing, a public rule admits anonymous requests.
  for (const key of ['upstreamJwt', 'audience'] as const) {
    if (raw[key] === undefined || (key === 'upstreamJwt' && !upstreamJwt)) continue;
    if (effect === 'deny') problem(`${key}: only an allow rule sends an upstream assertion`);
    else if (isPublic) problem(`${key}: a public rule admits requests without a token, so it has no identity to assert`);
  }

  const paths = list(raw, 'paths', problem, true, (p) => errorIfString(parsePathPattern(p)));
  const methods = withHead(
    list(raw, 'methods', problem, false, (m) =>
      KNOWN_METHODS.has(m.toUpperCase()) ? m.toUpperCase() : new Invalid('is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, …)'),
    ),
  );
  const hosts = list(raw, 'hosts', problem, false, (h) => errorIfString(parseHostPattern(h)));
  const conditions = {} as Record<ConditionKey, string[] | null>;
  for (const key of CONDITION_KEYS) {
    // IdP entity ids are compared exactly; one written twice is more often a typo for another IdP.
    const check = key === 'sourceIps' || key === 'notSourceIps' ? cidr : key === 'idps' ? distinct(nonEmpty) : nonEmpty;
    conditions[key] = list(raw, key, problem, false, check);
  }
  const rule: Rule = {
    id: idOk ? (raw.id as string) : `#${index}`,
    index,
    effect: effect as Effect,
    public: isPublic,
    paths: paths ?? [],
    methods,
    hosts,
    conditions,
    upstreamJwt,
    audience,
  };
  if (isPublic && hasIdentityConditions(rule)) {
    problem('public: a public rule needs no token, so it cannot have subjects, groups, idps, notSubjects or notGroups');
  }
  return problems.length > before ? null : rule;
}

/**
 * Methods compare case-insensitively (upper-cased here and by the request reader), and a rule naming
 * GET also covers HEAD: upstreams answer HEAD with their GET handler. Duplicates dropped.
 */
function withHead(methods: string[] | null): string[] | null {
  if (methods === null) return null;
  const out = [...new Set(methods)];
  if (out.includes('GET') && !out.includes('HEAD')) out.push('HEAD');
  return out;
}

class Invalid {
  constructor(readonly message: string) {}
}

/** The pattern parsers return an error message as a string. */
function errorIfString<T>(parsed: T | string): T | Invalid {
  return typeof parsed === 'string' ? new Invalid(parsed) : parsed;
}

/** A list key: absent → null; present → a non-empty list of strings, each checked by `check`. */
function list<T>(
  raw: Record<string, unknown>,
  key: string,
  problem: (msg: string) => void,
  required: boolean,
  check: (item: string) => T | Invalid,
): T[] | null {
  const value = raw[key];
  if (value === undefined) {
    if (required) problem(`${key}: required, a non-empty list`);
    return null;
  }
  if (!Array.isArray(value) || value.length === 0) {
    problem(`${key}: must be a non-empty list (omit the key to mean "any")`);
    return null;
  }
  const out: T[] = [];
  value.forEach((item: unknown, i) => {
    if (typeof item !== 'string') return problem(`${key}[${i}]: must be a string, got ${JSON.stringify(item)}`);
    const parsed = check(item);
    if (parsed instanceof Invalid) return problem(`${key}[${i}] "${item}": ${parsed.message}`);
    out.push(parsed);
  });
  return out;
}

/** `check`, and refuses an entry already in the list. */
function distinct(check: (item: string) => string | Invalid): (item: string) => string | Invalid {
  const seen = new Set<string>();
  return (item) => {
    const checked = check(item);
    if (checked instanceof Invalid) return checked;
    if (seen.has(checked)) return new Invalid('is listed twice');
    seen.add(checked);
    return checked;
  };
}

function nonEmpty(item: string): string | Invalid {
  return item === '' ? new Invalid('must not be empty') : item;
}

function cidr(item: string): string | Invalid {
  const parsed = parseCidr(item);
  return typeof parsed === 'string' ? new Invalid(parsed) : item;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
