/**
 * Findings about a valid policy that is probably not what its author meant. `error` findings make
 * `policy lint` exit 1; `warning` and `info` are advice.
 */
import { foldCase } from './patterns.js';
import { contradiction, conditionsImplied, reachCovers, reachOverlaps } from './relations.js';
import { hasIdentityConditions, hasNetworkConditions, ruleLabel } from './types.js';
import type { LintFinding, Policy, Rule, Severity } from './types.js';

export const LINT_CODES = {
  /** error: an allow rule that is not public and whose only conditions are network ones */
  network_only_allow: 'error',
  /** error: conditions that can never hold together */
  never_matches: 'error',
  /** warning: every request the rule reaches is denied by an unconditional-enough deny */
  shadowed_by_deny: 'warning',
  /**
   * error: a host pattern with a port. No front end passes a port the client cannot choose: plain
   * NGINX sends `Host $host` (never a port: the rule never matches), ingress-nginx, Traefik and Envoy
   * pass the client's own Host header (any port it writes reaches the same server): a port-scoped deny
   * is skipped by writing another port, a port-scoped allow is earned by writing its port.
   */
  host_with_port: 'error',
  /** warning: a public rule on `/**` with no host: the whole site, on every host, needs no token */
  site_wide_public: 'warning',
  /** warning: a deny on an exact path leaves `/x/` and `/x/...` reachable */
  deny_exact_path: 'warning',
  /** warning: an `idps` entry that is not a URI or URN (what SAML entity ids are): probably matches no token */
  idp_not_uri: 'warning',
  /** warning: no rules at all: everything is denied */
  empty_policy: 'warning',
  /** info: an allow and a deny reach some of the same requests (the deny wins where both apply) */
  overlapping_allow_deny: 'info',
} as const satisfies Record<string, Severity>;

export type LintCode = keyof typeof LINT_CODES;

/** A URI or URN as entity ids are written: a scheme, a colon, then no white space. */
const ENTITY_ID = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$/;

export function lintPolicy(policy: Policy): LintFinding[] {
  const findings: LintFinding[] = [];
  const add = (code: LintCode, rule: Rule | null, message: string) =>
    findings.push({ severity: LINT_CODES[code], code, ruleId: rule?.id ?? null, message: rule ? `${ruleLabel(rule)}: ${message}` : message });
  if (policy.rules.length === 0) add('empty_policy', null, 'the policy has no rules: every request is denied');
  const denyIndex = indexDenies(policy.rules.filter((r) => r.effect === 'deny'));
  for (const rule of policy.rules) {
    const denies = denyIndex(rule);
    if (rule.effect === 'allow' && !rule.public && !hasIdentityConditions(rule) && hasNetworkConditions(rule)) {
      add(
        'network_only_allow',
        rule,
        'grants on a network condition alone: any signed-in user from that network is allowed. ' +
          'Add identity conditions, or to restrict a route to a network write a deny with notSourceIps',
      );
    }
    for (const h of rule.hosts ?? []) {
      if (h.port === null) continue;
      add(
        'host_with_port',
        rule,
        `host "${h.source}": the port comes from the client's Host header (or, behind plain NGINX, never comes at all), ` +
          `so it neither limits nor reliably matches anything. Write "${h.wildcard ? '*.' : ''}${h.name}" and route ports in the proxy`,
      );
    }
    if (rule.effect === 'allow' && rule.public && rule.hosts === null && rule.paths.some((p) => p.segments.length === 1 && p.segments[0] === '**')) {
      add('site_wide_public', rule, 'public on "/**" for every host: the whole site needs no token. Name the paths (or hosts) that are public');
    }
    for (const idp of rule.conditions.idps ?? []) {
      if (ENTITY_ID.test(idp)) continue;
      add(
        'idp_not_uri',
        rule,
        `idps "${idp}": an IdP entity id is a URI or URN (https://idp.example.com/saml, urn:…), compared exactly with the token's idp claim, ` +
          'so this probably matches no token. Copy the entityID from the IdP\'s metadata',
      );
    }
    const contra = contradiction(rule);
    if (contra) add('never_matches', rule, `can never apply: ${contra}`);
    if (rule.effect === 'deny') {
      const exact = rule.paths.filter((p) => p.segments.at(-1) !== '**' && p.segments.at(-1) !== '');
      for (const p of exact) {
        add('deny_exact_path', rule, `path "${p.source}" does not cover "${p.source}/" or "${p.source}/…": use "${p.source}/**" to deny all three`);
      }
    }
    // An allow is dead under any covering deny; a deny is redundant under an earlier one.
    const shadow = denies.find(
      (d) => d !== rule && (rule.effect === 'allow' || d.index < rule.index) && reachCovers(d, rule) && conditionsImplied(d, rule),
    );
    if (shadow) {
      const what = rule.effect === 'allow' ? 'never allows anything' : 'is redundant';
      add('shadowed_by_deny', rule, `${what}: ${ruleLabel(shadow)} denies every request it applies to`);
    } else if (rule.effect === 'allow') {
      for (const d of denies) {
        if (reachOverlaps(d, rule)) add('overlapping_allow_deny', rule, `overlaps ${ruleLabel(d)}; where both apply, the deny wins`);
      }
    }
  }
  return findings;
}

/**
 * Denies that can reach a rule at all, in file order: those sharing a first path segment with it
 * (compared folded), or with a wildcard first segment. Keeps lint fast on large policies.
 */
function indexDenies(denies: Rule[]): (rule: Rule) => Rule[] {
  const byFirst = new Map<string, Rule[]>();
  const wild: Rule[] = [];
  const firsts = (r: Rule) => r.paths.map((p) => p.segments[0] ?? '');
  for (const d of denies) {
    const keys = firsts(d);
    if (keys.some(isWildcard)) wild.push(d);
    else {
      for (const k of new Set(keys.map(foldCase))) {
        const list = byFirst.get(k);
        if (list) list.push(d);
        else byFirst.set(k, [d]);
      }
    }
  }
  return (rule) => {
    const keys = firsts(rule);
    if (keys.some(isWildcard)) return denies;
    const found = new Set(wild);
    for (const k of keys) for (const d of byFirst.get(foldCase(k)) ?? []) found.add(d);
    return [...found].sort((a, b) => a.index - b.index);
  };
}

function isWildcard(segment: string): boolean {
  return segment === '*' || segment === '**';
}
