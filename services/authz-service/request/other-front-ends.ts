/**
 * What the front ends the deployment does not name say about the original request, when their headers
 * are present, and the headers applications read as its path or host (`X-Rewrite-URL`, `Forwarded:
 * host=`): request/front-end.ts refuses the request when any of them disagrees. Pure; runs on every request.
 */
import { parseHost } from '../../shared/host.js';
import type { AuthRequestInput, FrontEnd, FrontEndOptions, OriginalRequest } from './front-end.js';
import { Refusal, envoyPath, header, splitAbsoluteUrl, upper } from './headers.js';

/** `host=` parameters of a `Forwarded` header (quoted or token), case-insensitive. */
const FORWARDED_HOST = /(?:^|[;,\s])host\s*=\s*(?:"([^"]*)"|([^;,\s]*))/gi;

/** What another front end's headers, when present, say about the original request. */
export type Claim = { method?: string | undefined; host?: string | undefined; rawPath?: string | undefined };

export function readClaim(fe: FrontEnd, url: string, headers: AuthRequestInput['headers'], opts: FrontEndOptions): Claim | null {
  if (!mayClaim(fe, url, headers, opts)) return null; // the common case: none of its headers, nothing built
  const h = (name: string) => header(headers, name, 'conflicting_front_end_headers');
  switch (fe) {
    case 'nginx':
      return present({ method: h('x-original-method'), rawPath: h('x-original-uri') });
    case 'ingress-nginx': {
      const url = h('x-original-url');
      if (url === undefined) return null;
      const parsed = splitAbsoluteUrl(url);
      if (!parsed.ok) throw new Refusal('conflicting_front_end_headers');
      return { method: h('x-original-method'), host: parsed.host, rawPath: parsed.rawPath };
    }
    case 'traefik': {
      const host = h('x-forwarded-host');
      return present({ method: h('x-forwarded-method'), host, rawPath: h('x-forwarded-uri') });
    }
    case 'envoy':
      return present({ rawPath: envoyPath(url, opts.envoyPathPrefix) });
  }
}

/** Headers another front end would read (with the values it would send), one lookup each. */
const CLAIM_HEADERS: Record<Exclude<FrontEnd, 'envoy'>, readonly string[]> = {
  nginx: ['x-original-method', 'x-original-uri'],
  'ingress-nginx': ['x-original-url'],
  traefik: ['x-forwarded-method', 'x-forwarded-host', 'x-forwarded-uri'],
};

/** Whether `fe`'s headers are present at all: when not, {@link readClaim} would return null. */
function mayClaim(fe: FrontEnd, url: string, headers: AuthRequestInput['headers'], opts: FrontEndOptions): boolean {
  if (fe === 'envoy') return url.startsWith(opts.envoyPathPrefix);
  const names = CLAIM_HEADERS[fe];
  for (let i = 0; i < names.length; i++) if (headers[names[i]!] !== undefined) return true;
  return false;
}

/**
 * Headers that applications (not front ends) read as the request's path or host, and that a front end
 * passes on from the client: `X-Rewrite-URL` (IIS URL Rewrite, Symfony, Zend) and `Forwarded: host=`
 * (RFC 7239; Spring's ForwardedHeaderFilter, Rails, Express with `trust proxy`). When present they must
 * say what the decision is made on.
 */
export function upstreamDisagrees(read: OriginalRequest, headers: AuthRequestInput['headers']): boolean {
  const rewrite = header(headers, 'x-rewrite-url', 'conflicting_front_end_headers');
  if (rewrite !== undefined && rewrite !== read.rawPath) return true;
  const forwarded = headers.forwarded;
  if (forwarded === undefined) return false;
  const joined = Array.isArray(forwarded) ? forwarded.join(',') : forwarded;
  FORWARDED_HOST.lastIndex = 0;
  for (let m = FORWARDED_HOST.exec(joined); m !== null; m = FORWARDED_HOST.exec(joined)) {
    if (parseHost(m[1] ?? m[2] ?? '') !== read.host) return true;
  }
  return false;
}

function present(claim: Claim): Claim | null {
  return claim.method === undefined && claim.host === undefined && claim.rawPath === undefined ? null : claim;
}

export function disagrees(read: OriginalRequest, claim: Claim): boolean {
  if (claim.method !== undefined && upper(claim.method) !== read.method) return true;
  if (claim.rawPath !== undefined && claim.rawPath !== read.rawPath) return true;
  if (claim.host !== undefined && parseHost(claim.host) !== read.host) return true;
  return false;
}
