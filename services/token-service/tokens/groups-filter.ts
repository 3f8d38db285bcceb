import type { EnvReader } from '../../shared/env.js';
import { normalizeIdentifier } from '../saml/identity.js';

/**
 * Which of the IdP's groups go into the token (`groups` claim and token row). A user in hundreds of
 * directory groups would otherwise get a token too large for a cookie or for `/auth` (issue 12 item
 * 11); most of those groups mean nothing to the rules. Absent = every group is kept.
 *
 * CAUTION for operators: a group left out is invisible to every rule, deny rules and `notGroups`
 * included. The filter must keep every group the policy names.
 */
export interface GroupsFilter {
  /** Exact group names. */
  readonly names: ReadonlySet<string>;
  /** Entries written `prefix*`: a group starting with the prefix is kept. */
  readonly prefixes: readonly string[];
  /** SAML_GROUPS_FILTER_REGEX, anchored: it must match the whole group name. */
  readonly pattern: RegExp | null;
}

/**
 * `SAML_GROUPS_FILTER`: group names, and prefixes written `prefix*`, separated by commas or newlines
 * (spaces inside a name are kept: `Domain Users`); `SAML_GROUPS_FILTER_REGEX`: one regular expression
 * (JavaScript, Unicode mode) that must match a whole group name (for names holding commas, such as
 * LDAP DNs). A group is kept when any entry or the expression matches. Problems are recorded on `r`.
 */
export function readGroupsFilter(r: EnvReader): GroupsFilter | null {
  const list = r.string('SAML_GROUPS_FILTER');
  const regex = r.string('SAML_GROUPS_FILTER_REGEX');
  if (list === undefined && regex === undefined) return null;
  const names = new Set<string>();
  const prefixes: string[] = [];
  let entries = 0;
  for (const raw of (list ?? '').split(/[,\n]/)) {
    const entry = normalizeIdentifier(raw.trim());
    if (entry === '') continue;
    entries++;
    if (entry === '*') {
      r.fail('SAML_GROUPS_FILTER', '"*" keeps every group: leave the variable unset instead');
      continue;
    }
    if (entry.endsWith('*')) prefixes.push(entry.slice(0, -1));
    else names.add(entry);
  }
  let pattern: RegExp | null = null;
  if (regex !== undefined) {
    try {
      pattern = new RegExp(`^(?:${regex})$`, 'u');
    } catch (err) {
      r.fail('SAML_GROUPS_FILTER_REGEX', `not a valid regular expression (${(err as Error).message})`);
    }
  }
  if (entries === 0 && regex === undefined) {
    r.fail('SAML_GROUPS_FILTER', 'set but names no group');
  }
  return { names, prefixes, pattern };
}

/** The groups the filter keeps, in the IdP's order; all of them without a filter. */
export function filterGroups(filter: GroupsFilter | null, groups: readonly string[]): string[] {
  if (filter === null) return [...groups];
  return groups.filter((g) => filter.names.has(g) || filter.prefixes.some((p) => g.startsWith(p)) || (filter.pattern?.test(g) ?? false));
}
