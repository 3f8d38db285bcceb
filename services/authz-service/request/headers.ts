/**
 * The header helpers of the original-request readers (request/front-end.ts, request/other-front-ends.ts):
 * one value per header (a repeated one is refused), the envoy path after its prefix, an absolute URL
 * split without a URL parser rewriting it, methods upper-cased once. Pure; runs on every request.
 */
import { parseHost } from '../../shared/host.js';
import type { AuthRequestInput, FrontEndRefusal } from './front-end.js';

const SCHEME = /^https?:\/\//i;
const LOWER = /[a-z]/;

export class Refusal {
  constructor(readonly reason: FrontEndRefusal) {}
}

/** Methods compare case-insensitively: upper-cased once, here (no copy when already upper case). */
export function upper(method: string): string {
  return LOWER.test(method) ? method.toUpperCase() : method;
}

/** The original path+query after the envoy prefix (`/auth/ext/a?b` → `/a?b`), or undefined. */
export function envoyPath(url: string, prefix: string): string | undefined {
  if (!url.startsWith(prefix)) return undefined;
  const rest = url.slice(prefix.length);
  if (rest === '' || rest.startsWith('?')) return `/${rest}`;
  return rest.startsWith('/') ? rest : undefined;
}

export function header(
  headers: AuthRequestInput['headers'],
  name: string,
  onRepeat: FrontEndRefusal = 'ambiguous_header',
): string | undefined {
  const v = headers[name];
  if (Array.isArray(v)) throw new Refusal(onRepeat);
  return v;
}

export function repeats(raw: readonly string[], names: readonly string[]): boolean {
  // Runs on every request: no Set, and a header name is lower-cased only when its length fits.
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    for (let j = 0; j < names.length; j++) {
      const wanted = names[j]!;
      if (name.length !== wanted.length || name.toLowerCase() !== wanted) continue;
      if (seen & (1 << j)) return true;
      seen |= 1 << j;
    }
  }
  return false;
}

/**
 * Splits an absolute `http(s)://authority/path?query` without letting a URL parser rewrite the path:
 * the raw path+query is kept as sent. The authority must be a valid host (optional port) followed
 * directly by `/`: ingress-nginx builds this URL from the raw `Host` header, and anything else after
 * the authority (`?`, `#`, `\`, `@`, `%`, whitespace, a second port, nothing at all) would move part
 * of the Host into the path the rules see, while NGINX routes `$request_uri`.
 */
export function splitAbsoluteUrl(
  url: string,
): { ok: true; host: string; rawPath: string } | { ok: false; reason: 'bad_url' | 'bad_host' } {
  const scheme = SCHEME.exec(url);
  if (!scheme) return { ok: false, reason: 'bad_url' };
  const start = scheme[0].length;
  const slash = url.indexOf('/', start);
  const host = parseHost(url.slice(start, slash < 0 ? url.length : slash));
  if (host === null) return { ok: false, reason: 'bad_host' };
  if (slash < 0) return { ok: false, reason: 'bad_url' }; // `$request_uri` always starts with `/`
  return { ok: true, host, rawPath: url.slice(slash) };
}
