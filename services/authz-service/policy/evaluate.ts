/**
 * The hot path: `/auth` calls {@link evaluate} on every request. It looks up candidate rules in the
 * compiled index (method → host → path trie), so its cost does not grow with the number of rules,
 * and checks only the candidates' hosts' ports and conditions. No regex compilation, no spreads.
 */
import type { CompiledPolicy, EffectIndex, Entry, HostIndex, TrieNode } from './compile.js';
import { ANONYMOUS, Verdict, applies, clientOf, type Client } from './decide.js';
import { foldCase, pathSegments, splitHost, wildcardParent } from './patterns.js';
import type { Decision, Identity, RequestFacts } from './types.js';

/** What the lookup walks with: the request, split once. */
interface Probe {
  method: string;
  name: string;
  parent: string | null;
  segments: readonly string[];
}

type Visit<S> = (state: S, entry: Entry) => void;

const NON_ASCII = /[^\x00-\x7f]/;
const UNKNOWN_CLIENT: Client = Object.freeze({ ip: '', family: null });

class Evaluation {
  readonly verdict: Verdict;
  constructor(
    readonly identity: Identity | null,
    readonly client: Client,
    readonly port: string,
  ) {
    this.verdict = new Verdict(identity === null);
  }
}

/** Decides one request. `identity` null: anonymous (no valid token). */
export function evaluate(compiled: CompiledPolicy, request: RequestFacts, identity: Identity | null): Decision {
  const { name, port } = splitHost(request.host);
  const client = compiled.hasNetworkConditions ? clientOf(request.clientIp) : UNKNOWN_CLIENT;
  const ev = new Evaluation(identity, client, port);
  forEachCandidate(compiled, request, name, ev, consider);
  return ev.verdict.conclude();
}

function consider(ev: Evaluation, e: Entry): void {
  if (e.port !== null && e.port !== ev.port) return;
  const r = e.rule;
  const v = ev.verdict;
  const wanted = r.isDeny ? v.deny === null || r.index < v.deny.index : v.wantsAllow(r);
  if (wanted && applies(r, ev.identity ?? ANONYMOUS, ev.client)) v.offer(r);
}

/**
 * The ids of the rules the index hands to the evaluator for this request (distinct, file order):
 * what a decision costs. Matching host, path and method only; ports and conditions are not checked.
 */
export function candidates(compiled: CompiledPolicy, request: RequestFacts): string[] {
  const seen = new Map<number, string>();
  forEachCandidate(compiled, request, splitHost(request.host).name, seen, (s, e) => s.set(e.rule.index, e.rule.id));
  return [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, id]) => id);
}

function forEachCandidate<S>(compiled: CompiledPolicy, request: RequestFacts, name: string, state: S, visit: Visit<S>): void {
  const segments = pathSegments(request.path);
  const probe: Probe = { method: request.method, name, parent: wildcardParent(name), segments };
  lookup(compiled.allow, probe, state, visit);
  if (compiled.deny.size === 0) return;
  probe.segments = foldedSegments(request.path, segments);
  lookup(compiled.deny, probe, state, visit);
}

/** Deny literals were folded segment by segment; fold the request the same way. */
function foldedSegments(path: string, segments: readonly string[]): readonly string[] {
  if (NON_ASCII.test(path)) return segments.map(foldCase);
  const lower = path.toLowerCase();
  return lower === path ? segments : pathSegments(lower);
}

function lookup<S>(index: EffectIndex, probe: Probe, state: S, visit: Visit<S>): void {
  if (index.size === 0) return;
  const byMethod = index.byMethod.get(probe.method);
  if (byMethod) lookupHost(byMethod, probe, state, visit);
  lookupHost(index.anyMethod, probe, state, visit);
}

function lookupHost<S>(hosts: HostIndex, probe: Probe, state: S, visit: Visit<S>): void {
  const exact = hosts.exact.get(probe.name);
  if (exact) walk(exact, probe.segments, 0, state, visit);
  const wild = probe.parent === null ? undefined : hosts.wildcard.get(probe.parent);
  if (wild) walk(wild, probe.segments, 0, state, visit);
  if (hosts.any) walk(hosts.any, probe.segments, 0, state, visit);
}

function walk<S>(node: TrieNode, segments: readonly string[], i: number, state: S, visit: Visit<S>): void {
  if (node.rest) for (const e of node.rest) visit(state, e);
  if (i === segments.length) {
    if (node.end) for (const e of node.end) visit(state, e);
    return;
  }
  const seg = segments[i] as string;
  const next = node.literal?.get(seg);
  if (next) walk(next, segments, i + 1, state, visit);
  if (node.star && seg !== '') walk(node.star, segments, i + 1, state, visit);
}
