/** The policy model: validated rules, the request facts a decision is made on, and the decision. */

export type Effect = 'allow' | 'deny';

/** A path pattern split into segments: literals, `*` (one non-empty segment), `**` (last only). */
export interface PathPattern {
  source: string;
  segments: readonly string[];
}

/** `admin.example.com[:port]`, or `*.example.com[:port]` (`wildcard`, `name` is the parent). */
export interface HostPattern {
  source: string;
  name: string;
  wildcard: boolean;
  port: string | null;
}

export const CONDITION_KEYS = [
  'subjects',
  'groups',
  'idps',
  'sourceIps',
  'notSubjects',
  'notGroups',
  'notSourceIps',
] as const;
export type ConditionKey = (typeof CONDITION_KEYS)[number];
export const IDENTITY_KEYS: readonly ConditionKey[] = ['subjects', 'groups', 'idps', 'notSubjects', 'notGroups'];
export const NETWORK_KEYS: readonly ConditionKey[] = ['sourceIps', 'notSourceIps'];

/** A validated rule. Lists are null when absent (any); a present list is never empty. */
export interface Rule {
  id: string;
  /** 1-based position in the file */
  index: number;
  effect: Effect;
  public: boolean;
  paths: readonly PathPattern[];
  methods: readonly string[] | null;
  hosts: readonly HostPattern[] | null;
  conditions: Readonly<Record<ConditionKey, readonly string[] | null>>;
  /** allow, not public: an allow by this rule sends X-Auth-Request-Jwt upstream */
  upstreamJwt: boolean;
  /** the assertion's `aud`; null: the request's host without its port */
  audience: string | null;
}

export interface Policy {
  version: 1;
  rules: readonly Rule[];
}

/** The original request, already read and normalised. */
export interface RequestFacts {
  method: string;
  /** lower-case, may carry `:port` */
  host: string;
  /** normalised path (see request/path.ts) */
  path: string;
  /** the client address; anything that is not an IP address is "unknown" */
  clientIp: string;
}

/** A verified identity; null means anonymous (no valid token). */
export interface Identity {
  subject: string;
  groups: readonly string[];
  /**
   * The entity id of the IdP the user signed in at (claim `idp`); null: the token does not say (issued
   * before tokens carried it). An unknown IdP fails closed: an `idps` condition of an allow rule does
   * not hold, of a deny rule does.
   */
  idp: string | null;
}

export type Outcome = 'allow' | 'deny' | 'unauthenticated';
export type DecisionReason =
  | 'allow_rule'
  | 'public_rule'
  | 'explicit_deny'
  | 'no_matching_rule'
  | 'authentication_required';

export interface Decision {
  outcome: Outcome;
  reason: DecisionReason;
  ruleId?: string;
  public?: boolean;
}

export type Severity = 'error' | 'warning' | 'info';

export interface LintFinding {
  severity: Severity;
  code: string;
  ruleId: string | null;
  message: string;
}

/** `rule "admin-console" (#2)` — how messages name a rule. */
export function ruleLabel(rule: Pick<Rule, 'id' | 'index'>): string {
  return `rule "${rule.id}" (#${rule.index})`;
}

export function hasIdentityConditions(rule: Rule): boolean {
  return IDENTITY_KEYS.some((k) => rule.conditions[k] !== null);
}

export function hasNetworkConditions(rule: Rule): boolean {
  return NETWORK_KEYS.some((k) => rule.conditions[k] !== null);
}
