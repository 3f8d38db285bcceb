/**
 * Relations between rules, for lint: does one rule's reach cover another's (every request the second
 * matches, the first matches too), do two reaches overlap, are one rule's conditions implied by
 * another's. Conservative: "covers" and "implied" may say no when the truth is yes, never the reverse.
 */
import { foldCase, wildcardParent } from './patterns.js';
import type { ConditionKey, HostPattern, Rule } from './types.js';

/** Every path `q` matches, `p` matches too. `fold`: compare literals case-insensitively. */
export function pathCovers(p: readonly string[], q: readonly string[], fold: boolean, i = 0, j = 0): boolean {
  if (p[i] === '**') return true;
  if (i === p.length || j === q.length) return i === p.length && j === q.length;
  const a = p[i] as string;
  const b = q[j] as string;
  if (b === '**') return false;
  if (a === '*' ? b === '' : b === '*' || !same(a, b, fold)) return false;
  return pathCovers(p, q, fold, i + 1, j + 1);
}

/** Some path matches both patterns. */
export function pathsOverlap(p: readonly string[], q: readonly string[], fold: boolean, i = 0, j = 0): boolean {
  if (p[i] === '**' || q[j] === '**') return true;
  if (i === p.length || j === q.length) return i === p.length && j === q.length;
  const a = p[i] as string;
  const b = q[j] as string;
  const ok = a === '*' ? b !== '' : b === '*' ? a !== '' : same(a, b, fold);
  return ok && pathsOverlap(p, q, fold, i + 1, j + 1);
}

function same(a: string, b: string, fold: boolean): boolean {
  return fold ? foldCase(a) === foldCase(b) : a === b;
}

function hostCovers(p: HostPattern, q: HostPattern): boolean {
  if (p.port !== null && p.port !== q.port) return false;
  if (!p.wildcard) return !q.wildcard && p.name === q.name;
  return q.wildcard ? p.name === q.name : wildcardParent(q.name) === p.name;
}

function hostsOverlap(p: HostPattern, q: HostPattern): boolean {
  if (p.port !== null && q.port !== null && p.port !== q.port) return false;
  if (p.wildcard && q.wildcard) return p.name === q.name;
  if (p.wildcard) return wildcardParent(q.name) === p.name;
  if (q.wildcard) return wildcardParent(p.name) === q.name;
  return p.name === q.name;
}

/** `a`'s host, method and path reach covers `b`'s (a deny's paths compare case-insensitively). */
export function reachCovers(a: Rule, b: Rule): boolean {
  const fold = a.effect === 'deny';
  const hosts = a.hosts === null || (b.hosts !== null && b.hosts.every((q) => a.hosts?.some((p) => hostCovers(p, q))));
  const methods = a.methods === null || (b.methods !== null && b.methods.every((m) => a.methods?.includes(m)));
  const paths = b.paths.every((q) => a.paths.some((p) => pathCovers(p.segments, q.segments, fold)));
  return hosts && methods && paths;
}

/** Some request reaches both rules. */
export function reachOverlaps(a: Rule, b: Rule): boolean {
  const fold = a.effect === 'deny' || b.effect === 'deny';
  const hosts = a.hosts === null || b.hosts === null || a.hosts.some((p) => b.hosts?.some((q) => hostsOverlap(p, q)));
  const methods = a.methods === null || b.methods === null || a.methods.some((m) => b.methods?.includes(m));
  const paths = a.paths.some((p) => b.paths.some((q) => pathsOverlap(p.segments, q.segments, fold)));
  return hosts && methods && paths;
}

/** Whenever `b`'s conditions hold, `a`'s hold too (compared as written; CIDRs are not merged). */
export function conditionsImplied(a: Rule, b: Rule): boolean {
  const ac = a.conditions;
  const bc = b.conditions;
  const subset = (x: readonly string[] | null, y: readonly string[] | null) => x !== null && y !== null && x.every((v) => y.includes(v));
  const check: Record<ConditionKey, () => boolean> = {
    subjects: () => subset(bc.subjects, ac.subjects),
    groups: () => subset(bc.groups, ac.groups),
    idps: () => subset(bc.idps, ac.idps),
    sourceIps: () => subset(bc.sourceIps, ac.sourceIps),
    notSubjects: () =>
      subset(ac.notSubjects, bc.notSubjects) || (bc.subjects?.every((s) => !ac.notSubjects?.includes(s)) ?? false),
    notGroups: () => subset(ac.notGroups, bc.notGroups),
    notSourceIps: () => subset(ac.notSourceIps, bc.notSourceIps),
  };
  return (Object.keys(check) as ConditionKey[]).every((k) => ac[k] === null || check[k]());
}

/** Conditions that can never hold together (`groups: [a]` with `notGroups: [a]`, …). */
export function contradiction(rule: Rule): string | null {
  const c = rule.conditions;
  const pairs: [ConditionKey, ConditionKey][] = [
    ['subjects', 'notSubjects'],
    ['groups', 'notGroups'],
    ['sourceIps', 'notSourceIps'],
  ];
  for (const [pos, neg] of pairs) {
    const p = c[pos];
    const n = c[neg];
    if (p !== null && n !== null && p.every((v) => n.includes(v))) return `every entry of ${pos} is also in ${neg}`;
  }
  return null;
}
