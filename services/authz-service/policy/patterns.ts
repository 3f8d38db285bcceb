/** Path and host patterns: parsing with precise errors, and the reference (non-indexed) matchers. */
import { parseHost } from '../../shared/host.js';
import type { HostPattern, PathPattern } from './types.js';

const NON_ASCII = /[^\x00-\x7f]/;
const CONTROL = /[\x00-\x1f\x7f]/;
const ESCAPE = /%[0-9A-Fa-f]{2}/;

const DOTTED_CAPITAL_I = /\u0130/g;

/**
 * How deny rules compare paths: case-insensitively and after compatibility normalisation, so that an
 * upstream that folds case (or applies NFKC) cannot be reached around a deny. Upper- then lower-casing
 * makes `ı`, `ſ` and `K` (Kelvin) meet their ASCII letters, and `ß`/`ẞ` meet `ss`. `İ` (U+0130) is lower-cased by
 * JavaScript to `i` + U+0307 (two code points), while Java's `equalsIgnoreCase` and .NET's invariant
 * comparison take it for `i`: it is folded to `i` first, so a deny on `/admin` also covers `/admİn`.
 */
export function foldCase(s: string): string {
  if (!NON_ASCII.test(s)) return s.toLowerCase();
  // Twice: `ẞ` lower-cases to `ß`, which only the second upper-casing turns into `SS` (Java takes ẞ for ß).
  return s.normalize('NFKC').replace(DOTTED_CAPITAL_I, 'i').toUpperCase().toLowerCase().toUpperCase().toLowerCase();
}

/** `/a/b` → `['a', 'b']`; `/` → `['']`; `/a/` → `['a', '']`. */
export function pathSegments(path: string): string[] {
  return path.slice(1).split('/');
}

export function parsePathPattern(source: string): PathPattern | string {
  if (!source.startsWith('/')) return 'must start with "/"';
  if (CONTROL.test(source)) return 'must not contain control characters';
  if (source.includes('?') || source.includes('#')) return 'must not contain "?" or "#" (rules see the path only)';
  if (ESCAPE.test(source)) return 'must not contain percent-escapes: rules match the decoded path, write the character itself';
  const segments = pathSegments(source);
  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k] ?? '';
    const last = k === segments.length - 1;
    if (seg === '**' && !last) return '"**" is only allowed as the last segment';
    if (seg !== '*' && seg !== '**' && seg.includes('*')) return 'wildcards must be a whole segment ("*" or "**")';
    if (seg === '' && !last) return 'empty segment: repeated slashes never reach the rules';
    if (seg === '.' || seg === '..') return 'dot segments never reach the rules';
  }
  return { source, segments };
}

/** Reference matcher: does the pattern match these request segments? */
export function matchSegments(pattern: readonly string[], segs: readonly string[], i = 0, j = 0): boolean {
  if (pattern[i] === '**') return true;
  if (i === pattern.length || j === segs.length) return i === pattern.length && j === segs.length;
  const p = pattern[i] as string;
  const s = segs[j] as string;
  if (p === '*' ? s === '' : p !== s) return false;
  return matchSegments(pattern, segs, i + 1, j + 1);
}

export function parseHostPattern(source: string): HostPattern | string {
  const wildcard = source.startsWith('*.');
  const host = parseHost(wildcard ? source.slice(2) : source);
  if (host === null) {
    return 'must be a host name, an IP address or "*.domain", with an optional ":port"';
  }
  const { name, port } = splitHost(host);
  if (wildcard && name.startsWith('[')) return '"*." needs a domain name';
  return { source, name, wildcard, port: port === '' ? null : port };
}

/** Splits a (valid) `host[:port]` into name and port ('' when none). */
export function splitHost(host: string): { name: string; port: string } {
  const colon = host.lastIndexOf(':');
  if (colon < 0 || colon < host.lastIndexOf(']')) return { name: host, port: '' };
  return { name: host.slice(0, colon), port: host.slice(colon + 1) };
}

/** The parent a `*.parent` pattern names for this host name (`a.example.com` → `example.com`). */
export function wildcardParent(name: string): string | null {
  const dot = name.indexOf('.');
  return dot < 0 || name.startsWith('[') ? null : name.slice(dot + 1);
}

/** Reference matcher for one host pattern. */
export function matchHost(pattern: HostPattern, name: string, port: string): boolean {
  if (pattern.port !== null && pattern.port !== port) return false;
  return pattern.wildcard ? wildcardParent(name) === pattern.name : pattern.name === name;
}
