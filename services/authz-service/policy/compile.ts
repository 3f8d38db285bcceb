/**
 * Compiles a policy into an index so that a decision looks at a handful of candidate rules however
 * many rules there are: by host (exact name, `*.parent`, any), then a segment trie over literal / `*`
 * / `**` nodes holding the rules of every method and both effects (each entry says its methods and
 * effect). Deny rules enter the trie by case-folded literals (see foldCase) and are looked up with the
 * folded path, so deny paths match case-insensitively. One trie per host bucket, rather than one per
 * method and effect, keeps the memory a decision touches small: a few map lookups, not a dozen.
 */
import { parseCidrList } from '../../shared/cidr.js';
import type { CompiledRule, Conditions } from './decide.js';
import { foldCase } from './patterns.js';
import { CONDITION_KEYS, IDENTITY_KEYS } from './types.js';
import type { Policy, Rule } from './types.js';

/**
 * A rule as one of its host and path patterns reaches it: the compiled rule's fields themselves (not
 * a pointer to them, one object less to fetch per candidate), the host pattern's port (null: any),
 * the rule's methods (null: any; one array per distinct list) and the next rule in the trie node's
 * list (a linked list: no array and backing store to reach).
 */
export interface Entry extends CompiledRule {
  next: Entry | null;
  methods: readonly string[] | null;
  port: string | null;
}

export class TrieNode {
  /** the first literal child in two fields (most nodes have one: no Map to reach), the others in `literal` */
  key: string | null = null;
  child: TrieNode | null = null;
  literal: Map<string, TrieNode> | null = null;
  star: TrieNode | null = null;
  /** rules whose pattern ends exactly here */
  end: Entry | null = null;
  /** rules whose pattern ends in `**` here: they match whatever follows, including nothing */
  rest: Entry | null = null;
}

export interface CompiledPolicy {
  policy: Policy;
  rules: readonly CompiledRule[];
  /** one trie per host bucket, for every method and both effects: by exact name */
  exact: Map<string, TrieNode>;
  /** `*.parent` patterns, keyed by parent */
  wildcard: Map<string, TrieNode>;
  /** rules naming no host */
  any: TrieNode | null;
  /** some rule is a deny: the path needs folding too */
  hasDeny: boolean;
  /** some rule has a network condition: the client address needs parsing */
  hasNetworkConditions: boolean;
  /** every rule by id (a decision names its rule by id) */
  byId: ReadonlyMap<string, CompiledRule>;
}

export function compilePolicy(policy: Policy): CompiledPolicy {
  const rules = policy.rules.map(ruleCompiler());
  const compiled: CompiledPolicy = {
    policy,
    rules,
    exact: new Map(),
    wildcard: new Map(),
    any: null,
    hasDeny: rules.some((r) => r.isDeny),
    hasNetworkConditions: rules.some((r) => r.when.sourceIps !== null || r.when.notSourceIps !== null),
    byId: new Map(rules.map((r) => [r.id, r])),
  };
  const methodLists = new Map<string, readonly string[]>();
  const literals = new Map<string, string>();
  for (const r of rules) {
    const m = r.rule.methods;
    insertRule(compiled, r, m === null ? null : shared(methodLists, JSON.stringify(m), () => m), literals);
  }
  return compiled;
}

/**
 * Compiles rules one by one, sharing one {@link Conditions} between the rules whose conditions are
 * equal: a large policy repeats a few group lists and networks, and a decision then touches fewer objects.
 */
function ruleCompiler(): (rule: Rule) => CompiledRule {
  const conditions = new Map<string, Conditions>();
  return (rule) => {
    const c = rule.conditions;
    const when = shared(conditions, JSON.stringify(CONDITION_KEYS.map((k) => c[k])), () => compileConditions(c));
    // What a decision reads first, so that it shares the fewest cache lines.
    return {
      isDeny: rule.effect === 'deny',
      index: rule.index,
      isPublic: rule.public,
      identityConditions: IDENTITY_KEYS.some((k) => c[k] !== null),
      when,
      id: rule.id,
      upstreamJwt: rule.upstreamJwt,
      audience: rule.audience,
      rule,
    };
  };
}

function compileConditions(c: Rule['conditions']): Conditions {
  const set = (l: readonly string[] | null) => (l === null ? null : new Set(l));
  const net = (l: readonly string[] | null) => (l === null ? null : parseCidrList(l));
  return {
    subjects: set(c.subjects),
    notSubjects: set(c.notSubjects),
    groups: set(c.groups),
    notGroups: set(c.notGroups),
    idps: set(c.idps),
    sourceIps: net(c.sourceIps),
    notSourceIps: net(c.notSourceIps),
  };
}

function shared<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let value = cache.get(key);
  if (value === undefined) cache.set(key, (value = make()));
  return value;
}

/** `literals`: one string per distinct trie key, so that a decision compares against a few shared ones. */
function insertRule(index: CompiledPolicy, r: CompiledRule, methods: readonly string[] | null, literals: Map<string, string>): void {
  for (const h of r.rule.hosts ?? [null]) {
    const root = h === null ? (index.any ??= new TrieNode()) : hostRoot(h.wildcard ? index.wildcard : index.exact, h.name);
    for (const p of r.rule.paths) {
      const entry: Entry = { next: null, methods, port: h?.port ?? null, ...r };
      insertPath(root, p.segments, entry, r.isDeny, literals);
    }
  }
}

function hostRoot(map: Map<string, TrieNode>, name: string): TrieNode {
  let node = map.get(name);
  if (!node) map.set(name, (node = new TrieNode()));
  return node;
}

function insertPath(root: TrieNode, segments: readonly string[], entry: Entry, fold: boolean, literals: Map<string, string>): void {
  let node = root;
  for (const seg of segments) {
    if (seg === '**') {
      entry.next = node.rest;
      node.rest = entry;
      return;
    }
    if (seg === '*') node = node.star ??= new TrieNode();
    else {
      const folded = fold ? foldCase(seg) : seg;
      node = literalChild(node, shared(literals, folded, () => folded));
    }
  }
  entry.next = node.end;
  node.end = entry;
}

function literalChild(node: TrieNode, key: string): TrieNode {
  if (node.key === null) node.key = key;
  if (node.key === key) return (node.child ??= new TrieNode());
  node.literal ??= new Map();
  let next = node.literal.get(key);
  if (!next) node.literal.set(key, (next = new TrieNode()));
  return next;
}
