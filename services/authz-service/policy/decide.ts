/**
 * The decision itself, shared by the indexed evaluator and the slow explainer: when a matching rule
 * applies (its conditions), and how the applicable rules combine into one decision.
 */
import type { BlockList } from 'node:net';
import { ipFamily, normalizeIp, type IpFamily } from '../../shared/cidr.js';
import type { ConditionKey, Decision, Identity, Rule } from './types.js';

/** A rule's conditions ready for fast checks (null: not named); rules with equal conditions share one. */
export interface Conditions {
  subjects: ReadonlySet<string> | null;
  notSubjects: ReadonlySet<string> | null;
  groups: ReadonlySet<string> | null;
  notGroups: ReadonlySet<string> | null;
  idps: ReadonlySet<string> | null;
  sourceIps: BlockList | null;
  notSourceIps: BlockList | null;
}

/** A rule ready for fast checks. */
export interface CompiledRule {
  isDeny: boolean;
  index: number;
  isPublic: boolean;
  /** names subjects, groups, idps, notSubjects or notGroups: signing in could change whether it applies */
  identityConditions: boolean;
  when: Conditions;
  id: string;
  /** the rule asks for the upstream assertion (policy `upstreamJwt: true`) */
  upstreamJwt: boolean;
  /** the assertion's audience (policy `audience`); null: the request host without port */
  audience: string | null;
  rule: Rule;
}

/** The client address, parsed once per decision. */
export interface Client {
  ip: string;
  /** null: not an address, "unknown" */
  family: IpFamily | null;
}

/**
 * Stands in for "no token": no subject, no groups, and signed in at no IdP (`idp` "", which no token
 * carries), so an `idps` condition does not hold for it, of an allow or a deny rule, as `groups` does not.
 */
export const ANONYMOUS: Identity = Object.freeze({ subject: '', groups: Object.freeze([]) as readonly string[], idp: '' });

export function clientOf(clientIp: string): Client {
  const ip = normalizeIp(clientIp);
  return { ip, family: ipFamily(ip) };
}

/**
 * Every condition the rule names holds. A list holds when any entry does; a `notX` list holds when
 * none does. An unknown client address fails closed: an allow rule's network conditions do not hold,
 * a deny rule's do. So does a token that does not name its IdP (`idp` null): an allow rule's `idps`
 * does not hold, a deny rule's does.
 */
export function applies(r: CompiledRule, identity: Identity, client: Client): boolean {
  const c = r.when;
  if (c.subjects !== null && !c.subjects.has(identity.subject)) return false;
  if (c.notSubjects !== null && c.notSubjects.has(identity.subject)) return false;
  if (c.groups !== null && !anyIn(identity.groups, c.groups)) return false;
  if (c.notGroups !== null && anyIn(identity.groups, c.notGroups)) return false;
  if (c.idps !== null && !fromIdp(c.idps, identity.idp, r.isDeny)) return false;
  if (c.sourceIps !== null && !inNetwork(c.sourceIps, client, r.isDeny)) return false;
  if (c.notSourceIps !== null && inNetwork(c.notSourceIps, client, !r.isDeny)) return false;
  return true;
}

/** One condition, for explanations (slow path); {@link applies} is the conjunction of these. */
export function holds(r: CompiledRule, key: ConditionKey, identity: Identity, client: Client): boolean {
  const c = r.when;
  switch (key) {
    case 'subjects':
      return c.subjects?.has(identity.subject) ?? true;
    case 'notSubjects':
      return !(c.notSubjects?.has(identity.subject) ?? false);
    case 'groups':
      return c.groups === null || anyIn(identity.groups, c.groups);
    case 'notGroups':
      return c.notGroups === null || !anyIn(identity.groups, c.notGroups);
    case 'idps':
      return c.idps === null || fromIdp(c.idps, identity.idp, r.isDeny);
    case 'sourceIps':
      return c.sourceIps === null || inNetwork(c.sourceIps, client, r.isDeny);
    case 'notSourceIps':
      return c.notSourceIps === null || !inNetwork(c.notSourceIps, client, !r.isDeny);
  }
}

function anyIn(groups: readonly string[], set: ReadonlySet<string>): boolean {
  for (let i = 0; i < groups.length; i++) if (set.has(groups[i] as string)) return true;
  return false;
}

function fromIdp(idps: ReadonlySet<string>, idp: string | null, ifUnknown: boolean): boolean {
  return idp === null ? ifUnknown : idps.has(idp);
}

function inNetwork(list: BlockList, client: Client, ifUnknown: boolean): boolean {
  return client.family === null ? ifUnknown : list.check(client.ip, client.family);
}

/**
 * Collects applicable rules (in any order) and concludes. Authenticated: a deny wins, then an allow,
 * else no_matching_rule. Anonymous: non-public allows never apply; a deny that names no identity
 * condition is final, one that does means signing in could change it; else a public allow; else
 * authentication is required. Among several, the first in file order names the decision.
 */
export class Verdict {
  deny: CompiledRule | null = null;
  /** anonymous only: an applicable deny that names identity conditions */
  softDeny: CompiledRule | null = null;
  allow: CompiledRule | null = null;

  constructor(readonly anonymous: boolean) {}

  /** Call for a rule that matched and applies. */
  offer(r: CompiledRule): void {
    if (r.isDeny) {
      if (this.anonymous && r.identityConditions) this.softDeny = first(this.softDeny, r);
      else this.deny = first(this.deny, r);
    } else if (r.isPublic || !this.anonymous) {
      this.allow = first(this.allow, r);
    }
  }

  /** Whether an allow rule can still change the decision (lets callers skip work). */
  wantsAllow(r: CompiledRule): boolean {
    return this.deny === null && (this.allow === null || r.index < this.allow.index) && (r.isPublic || !this.anonymous);
  }

  conclude(): Decision {
    if (this.deny) return { outcome: 'deny', reason: 'explicit_deny', ruleId: this.deny.id };
    if (this.anonymous) {
      if (this.softDeny) return { outcome: 'unauthenticated', reason: 'authentication_required', ruleId: this.softDeny.id };
      if (this.allow) return { outcome: 'allow', reason: 'public_rule', ruleId: this.allow.id, public: true };
      return { outcome: 'unauthenticated', reason: 'authentication_required' };
    }
    if (this.allow) {
      const pub = this.allow.isPublic;
      return { outcome: 'allow', reason: pub ? 'public_rule' : 'allow_rule', ruleId: this.allow.id, public: pub };
    }
    return { outcome: 'deny', reason: 'no_matching_rule' };
  }
}

function first(current: CompiledRule | null, r: CompiledRule): CompiledRule {
  return current === null || r.index < current.index ? r : current;
}
