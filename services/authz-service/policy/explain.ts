/**
 * The slow, complete account of a decision, for `policy explain` and for tests: every rule whose
 * path matches, whether host and method match too, and which of its conditions hold. It does not use
 * the index, so tests compare it with {@link evaluate}.
 */
import type { CompiledPolicy } from './compile.js';
import { ANONYMOUS, Verdict, applies, clientOf, holds } from './decide.js';
import { foldCase, matchHost, matchSegments, pathSegments, splitHost } from './patterns.js';
import { CONDITION_KEYS } from './types.js';
import type { Decision, Identity, RequestFacts } from './types.js';

export interface RuleTrace {
  id: string;
  index: number;
  effect: 'allow' | 'deny';
  public: boolean;
  /** host, path and method all match */
  matched: boolean;
  /** matched, and every condition holds (and, when anonymous, the rule can apply without a token) */
  applies: boolean;
  /** one line per check: `path "/api/**" matches`, `groups [admins]: does not hold`, … */
  notes: string[];
}

export interface Explanation {
  decision: Decision;
  /** every rule whose path matched, in file order */
  rules: RuleTrace[];
}

export function explainDecision(compiled: CompiledPolicy, request: RequestFacts, identity: Identity | null): Explanation {
  const { name, port } = splitHost(request.host);
  const client = clientOf(request.clientIp);
  const who = identity ?? ANONYMOUS;
  const verdict = new Verdict(identity === null);
  const segments = pathSegments(request.path);
  const folded = segments.map(foldCase);
  const rules: RuleTrace[] = [];
  for (const r of compiled.rules) {
    const rule = r.rule;
    const path = rule.paths.find((p) =>
      r.isDeny ? matchSegments(p.segments.map(foldCase), folded) : matchSegments(p.segments, segments),
    );
    if (!path) continue;
    const notes = [`path "${path.source}" matches${r.isDeny ? ' (deny rules ignore case)' : ''}`];
    const host = rule.hosts === null ? true : rule.hosts.find((h) => matchHost(h, name, port));
    notes.push(host === true ? 'any host' : host ? `host "${host.source}" matches` : `host not in [${rule.hosts?.map((h) => h.source).join(', ')}]`);
    const method = rule.methods === null || rule.methods.includes(request.method);
    notes.push(rule.methods === null ? 'any method' : `method ${request.method} ${method ? 'is' : 'not'} in [${rule.methods.join(', ')}]`);
    const matched = host !== undefined && method;
    for (const key of CONDITION_KEYS) {
      const values = rule.conditions[key];
      if (values === null) continue;
      // A token that names no IdP fails closed, like an unknown client address: say so.
      const unknown = key === 'idps' && who.idp === null ? ` (the token names no IdP: ${r.isDeny ? "a deny's" : "an allow's"} idps ${r.isDeny ? 'holds' : 'does not hold'})` : '';
      notes.push(`${key} [${values.join(', ')}]: ${holds(r, key, who, client) ? 'holds' : 'does not hold'}${unknown}`);
    }
    if (r.upstreamJwt || r.audience !== null) {
      const aud = r.audience === null ? `the request host "${name}"` : `"${r.audience}"`;
      notes.push(r.upstreamJwt ? `upstreamJwt: an allow sends X-Auth-Request-Jwt, aud ${aud}` : `audience ${aud} (for UPSTREAM_JWT_ALL=true)`);
    }
    let applied = matched && applies(r, who, client);
    if (applied && identity === null && !r.isDeny && !r.isPublic) {
      notes.push('not public: applies only to a signed-in user');
      applied = false;
    }
    if (applied) verdict.offer(r);
    rules.push({ id: r.id, index: r.index, effect: rule.effect, public: r.isPublic, matched, applies: applied, notes });
  }
  return { decision: verdict.conclude(), rules };
}
