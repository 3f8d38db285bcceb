/**
 * The decision itself, shared by the indexed evaluator and the slow explainer: when a matching rule
 * applies (its conditions), and how the applicable rules combine into one decision.
 */
import type { BlockList } from 'node:net';
import { ipFamily, normalizeIp, type IpFamily } from '../../shared/cidr.js';
import type { ConditionKey, Decision, Identity, Rule } from './types.js';

/** A rule with its conditions ready for fast checks. */
export interface CompiledRule {
  rule: Rule;
  id: string;
  index: number;
  isDeny: boolean;
  isPublic: boolean;
  /** names subjects, groups, idps, notSubjects or notGroups: signing in could change whether it applies */
  identityConditions: boolean;
  subjects: ReadonlySet<string> | null;
  groups: ReadonlySet<string> | null;
  idps: ReadonlySet<string> | null;
  notSubjects: ReadonlySet<string> | null;
  notGroups: ReadonlySet<string> | null;
  sourceIps: BlockList | null;
  notSourceIps: BlockList | null;
  /** the rule asks for the upstream assertion (policy `upstreamJwt: true`) */
  upstreamJwt: boolean;
  /** the assertion's audience (policy `audience`); null: the request host without port */
  audience: string | null;
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
  if (r.subjects !== null && !r.subjects.has(identity.subject)) return false;
  if (r.notSubjects !== null && r.notSubjects.has(identity.subject)) return false;
  if (r.groups !== null && !anyIn(identity.groups, r.groups)) return false;
  if (r.notGroups !== null && anyIn(identity.groups, r.notGroups)) return false;
  if (r.idps !== null && !fromIdp(r.idps, identity.idp, r.isDeny)) return false;
  if (r.sourceIps !== null && !inNetwork(r.sourceIps, client, r.isDeny)) return false;
  if (r.notSourceIps !== null && inNetwork(r.notSourceIps, client, !r.isDeny)) return false;
  return true;
}

/** One condition, for explanations (slow path); {@link applies} is the conjunction of these. */
export function holds(r: CompiledRule, key: ConditionKey, identity: Identity, client: Client): boolean {
  switch (key) {
    case 'subjects':
      return r.subjects?.has(identity.subject) ?? true;
    case 'notSubjects':
      return !(r.notSubjects?.has(identity.subject) ?? false);
    case 'groups':
      return r.groups === null || anyIn(identity.groups, r.groups);
    case 'notGroups':
      return r.notGroups === null || !anyIn(identity.groups, r.notGroups);
    case 'idps':
      return r.idps === null || fromIdp(r.idps, identity.idp, r.isDeny);
    case 'sourceIps':
      return r.sourceIps === null || inNetwork(r.sourceIps, client, r.isDeny);
    case 'notSourceIps':
      return r.notSourceIps === null || !inNetwork(r.notSourceIps, client, !r.isDeny);
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
