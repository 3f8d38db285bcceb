/**
 * The hot path: `/auth` calls {@link evaluate} on every request. It looks up candidate rules in the
 * compiled index (host → path trie, entries filtered by method), so its cost does not grow with the number of rules,
 * and checks only the candidates' hosts' ports and conditions. No regex compilation, no spreads.
 */
import type { CompiledPolicy, Entry, TrieNode } from './compile.js';
import { ANONYMOUS, Verdict, applies, clientOf, type Client } from './decide.js';
import { foldCase, pathSegments, splitHost, wildcardParent } from './patterns.js';
import type { Decision, Identity, RequestFacts } from './types.js';

/** What the lookup walks with: the request, split once (and folded once, for the deny rules). */
interface Probe<S> {
  method: string;
  segments: readonly string[];
  /** null: the policy has no deny rule */
  folded: readonly string[] | null;
  state: S;
  visit: Visit<S>;
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

function consider(ev: Evaluation, r: Entry): void {
  if (r.port !== null && r.port !== ev.port) return;
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
  forEachCandidate(compiled, request, splitHost(request.host).name, seen, (s, e) => s.set(e.index, e.id));
  return [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, id]) => id);
}

/** Which entries a walk hands on: allow entries (by the path as is), deny ones (by the folded path). */
const ALLOW = 1;
const DENY = 2;

function forEachCandidate<S>(compiled: CompiledPolicy, request: RequestFacts, name: string, state: S, visit: Visit<S>): void {
  const segments = pathSegments(request.path);
  const folded = compiled.hasDeny ? foldedSegments(request.path, segments) : null;
  const probe: Probe<S> = { method: request.method, segments, folded, state, visit };
  const parent = wildcardParent(name);
  lookup(compiled.exact.get(name), probe);
  if (parent !== null) lookup(compiled.wildcard.get(parent), probe);
  lookup(compiled.any, probe);
}

/** Deny literals were folded segment by segment; fold the request the same way. */
function foldedSegments(path: string, segments: readonly string[]): readonly string[] {
  if (NON_ASCII.test(path)) return segments.map(foldCase);
  const lower = path.toLowerCase();
  return lower === path ? segments : pathSegments(lower);
}

function lookup<S>(root: TrieNode | null | undefined, probe: Probe<S>): void {
  if (!root) return;
  if (probe.folded === probe.segments) return walk(root, probe.segments, 0, ALLOW | DENY, probe);
  walk(root, probe.segments, 0, ALLOW, probe);
  if (probe.folded !== null) walk(root, probe.folded, 0, DENY, probe);
}

function walk<S>(node: TrieNode, segments: readonly string[], i: number, effects: number, probe: Probe<S>): void {
  if (node.rest) offer(node.rest, effects, probe);
  if (i === segments.length) {
    if (node.end) offer(node.end, effects, probe);
    return;
  }
  const seg = segments[i] as string;
  const next = node.key === seg ? node.child : node.literal?.get(seg);
  if (next) walk(next, segments, i + 1, effects, probe);
  if (node.star && seg !== '') walk(node.star, segments, i + 1, effects, probe);
}

function offer<S>(entries: Entry, effects: number, probe: Probe<S>): void {
  for (let e: Entry | null = entries; e !== null; e = e.next) {
    if ((e.isDeny ? effects & DENY : effects & ALLOW) === 0) continue;
    if (e.methods === null || e.methods.includes(probe.method)) probe.visit(probe.state, e);
  }
}
