/**
 * Reads the original request (method, host, raw path+query) from the headers of the one front end
 * the deployment names. Never falls back from one header set to another: a client can send any
 * header its proxy does not overwrite. Headers of another front end that disagree are refused. Pure.
 */
import { parseHost } from '../../shared/host.js';
import { HTTP_TOKEN } from '../../shared/http-token.js';

export type FrontEnd = 'nginx' | 'ingress-nginx' | 'traefik' | 'envoy';
export const FRONT_ENDS: readonly FrontEnd[] = ['nginx', 'ingress-nginx', 'traefik', 'envoy'];

export type FrontEndRefusal =
  | 'missing_original_request'
  | 'ambiguous_header'
  | 'bad_method'
  | 'bad_host'
  | 'bad_url'
  | 'conflicting_front_end_headers'
  | 'method_override';

export interface AuthRequestInput {
  /** the /auth request's own method and URL (path+query), as Fastify sees them */
  method: string;
  url: string;
  /** lower-cased header names */
  headers: Record<string, string | string[] | undefined>;
  /** optional: Node's rawHeaders, to catch a repeated header that Node joined or dropped */
  rawHeaders?: readonly string[];
}

export interface FrontEndOptions {
  envoyPathPrefix: string;
  /**
   * ingress-nginx: require `X-Auth-Request-Redirect` (the controller sends `$request_uri` there unless
   * the `auth-request-redirect` annotation replaces it) and refuse when it is not the path of
   * `X-Original-URL`. Default true.
   */
  checkRequestRedirect?: boolean;
  /**
   * Method-override headers (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`): refused
   * (`method_override`) unless true; when true, the override is returned as `overrideMethod`.
   */
  allowMethodOverride?: boolean;
}

export interface OriginalRequest {
  ok: true;
  /** upper-cased */
  method: string;
  /** only with allowMethodOverride: the method an override header names (upper-cased), when one does */
  overrideMethod?: string;
  /** lower-cased, with `:port` when one was given */
  host: string;
  /** path + query as forwarded, not yet normalised */
  rawPath: string;
}

export type ReadResult = OriginalRequest | { ok: false; reason: FrontEndRefusal };

const DEFAULTS: FrontEndOptions = { envoyPathPrefix: '/auth/ext' };
const SCHEME = /^https?:\/\//i;
const LOWER = /[a-z]/;
/** `host=` parameters of a `Forwarded` header (quoted or token), case-insensitive. */
const FORWARDED_HOST = /(?:^|[;,\s])host\s*=\s*(?:"([^"]*)"|([^;,\s]*))/gi;
/** Headers that make frameworks (Express method-override, Spring, Rails, Laravel…) run another method. */
export const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;

/** Headers each front end reads; used to refuse a repeated one. */
const HEADERS: Record<FrontEnd, readonly string[]> = {
  nginx: ['x-original-uri', 'x-original-method', 'host'],
  'ingress-nginx': ['x-original-url', 'x-original-method', 'x-auth-request-redirect'],
  traefik: ['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri'],
  envoy: ['host'],
};

class Refusal {
  constructor(readonly reason: FrontEndRefusal) {}
}

export function readOriginalRequest(
  frontEnd: FrontEnd,
  input: AuthRequestInput,
  options: Partial<FrontEndOptions> = {},
): ReadResult {
  const opts = options.envoyPathPrefix !== undefined ? (options as FrontEndOptions) : { ...DEFAULTS, ...options };
  try {
    if (input.rawHeaders && repeats(input.rawHeaders, HEADERS[frontEnd])) return refusal('ambiguous_header');
    const read = readConfigured(frontEnd, input, opts);
    if (!read) return refusal('missing_original_request');
    for (const other of FRONT_ENDS) {
      if (other === frontEnd) continue;
      const claim = readClaim(other, input, opts);
      if (claim && disagrees(read, claim)) return refusal('conflicting_front_end_headers');
    }
    if (upstreamDisagrees(read, input.headers)) return refusal('conflicting_front_end_headers');
    return withOverride(read, input, opts);
  } catch (err) {
    if (err instanceof Refusal) return refusal(err.reason);
    throw err;
  }
}

/** The configured front end: every header it sends is required and validated. */
function readConfigured(fe: FrontEnd, input: AuthRequestInput, opts: FrontEndOptions): OriginalRequest | null {
  const h = (name: string) => header(input.headers, name);
  let method: string | undefined;
  let host: string | undefined;
  let rawPath: string | undefined;
  switch (fe) {
    case 'nginx':
      [method, host, rawPath] = [h('x-original-method'), h('host'), h('x-original-uri')];
      break;
    case 'ingress-nginx': {
      method = h('x-original-method');
      const url = h('x-original-url');
      if (url === undefined) return null;
      const parsed = splitAbsoluteUrl(url);
      if (!parsed.ok) throw new Refusal(parsed.reason);
      [host, rawPath] = [parsed.host, parsed.rawPath];
      if (opts.checkRequestRedirect !== false) {
        // ingress-nginx always sends `X-Auth-Request-Redirect: $request_uri`: the request-target NGINX
        // routes. An X-Original-URL whose path differs was built from a Host that moved the path.
        const redirect = h('x-auth-request-redirect');
        if (redirect === undefined) return null;
        if (redirect !== rawPath) throw new Refusal('bad_url');
      }
      break;
    }
    case 'traefik': {
      [method, host, rawPath] = [h('x-forwarded-method'), h('x-forwarded-host'), h('x-forwarded-uri')];
      const proto = h('x-forwarded-proto');
      if (proto === undefined) return null;
      if (proto !== 'http' && proto !== 'https') throw new Refusal('bad_url');
      break;
    }
    case 'envoy':
      [method, host, rawPath] = [input.method, h('host'), envoyPath(input.url, opts.envoyPathPrefix)];
      break;
  }
  if (method === undefined || host === undefined || rawPath === undefined) return null;
  if (!HTTP_TOKEN.test(method)) throw new Refusal('bad_method');
  const validHost = parseHost(host);
  if (validHost === null) throw new Refusal('bad_host');
  return { ok: true, method: upper(method), host: validHost, rawPath };
}

/** Methods compare case-insensitively: upper-cased once, here (no copy when already upper case). */
function upper(method: string): string {
  return LOWER.test(method) ? method.toUpperCase() : method;
}

/**
 * A method-override header asks the application to run another method than the one the rules
 * see: refused, unless the operator allows overrides; then the override is returned so that the
 * decision can hold for both methods.
 */
function withOverride(read: OriginalRequest, input: AuthRequestInput, opts: FrontEndOptions): ReadResult {
  const headers = input.headers;
  let override: string | undefined;
  for (let i = 0; i < METHOD_OVERRIDE_HEADERS.length; i++) {
    const v = headers[METHOD_OVERRIDE_HEADERS[i]!];
    if (v === undefined) continue;
    if (!opts.allowMethodOverride || Array.isArray(v)) return refusal('method_override');
    const trimmed = v.trim();
    if (!HTTP_TOKEN.test(trimmed)) return refusal('method_override');
    const m = upper(trimmed);
    if (override !== undefined && override !== m) return refusal('method_override');
    override = m;
  }
  if (override === undefined || override === read.method) return read;
  return { ...read, overrideMethod: override };
}

/** What another front end's headers, when present, say about the original request. */
type Claim = { method?: string | undefined; host?: string | undefined; rawPath?: string | undefined };

function readClaim(fe: FrontEnd, input: AuthRequestInput, opts: FrontEndOptions): Claim | null {
  if (!mayClaim(fe, input, opts)) return null; // the common case: none of its headers, nothing built
  const h = (name: string) => header(input.headers, name, 'conflicting_front_end_headers');
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
      return present({ rawPath: envoyPath(input.url, opts.envoyPathPrefix) });
  }
}

/** Headers another front end would read (with the values it would send), one lookup each. */
const CLAIM_HEADERS: Record<Exclude<FrontEnd, 'envoy'>, readonly string[]> = {
  nginx: ['x-original-method', 'x-original-uri'],
  'ingress-nginx': ['x-original-url'],
  traefik: ['x-forwarded-method', 'x-forwarded-host', 'x-forwarded-uri'],
};

/** Whether `fe`'s headers are present at all: when not, {@link readClaim} would return null. */
function mayClaim(fe: FrontEnd, input: AuthRequestInput, opts: FrontEndOptions): boolean {
  if (fe === 'envoy') return input.url.startsWith(opts.envoyPathPrefix);
  const names = CLAIM_HEADERS[fe];
  for (let i = 0; i < names.length; i++) if (input.headers[names[i]!] !== undefined) return true;
  return false;
}

/**
 * Headers that applications (not front ends) read as the request's path or host, and that a front end
 * passes on from the client: `X-Rewrite-URL` (IIS URL Rewrite, Symfony, Zend) and `Forwarded: host=`
 * (RFC 7239; Spring's ForwardedHeaderFilter, Rails, Express with `trust proxy`). When present they must
 * say what the decision is made on.
 */
function upstreamDisagrees(read: OriginalRequest, headers: AuthRequestInput['headers']): boolean {
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

/** The original path+query after the envoy prefix (`/auth/ext/a?b` → `/a?b`), or undefined. */
function envoyPath(url: string, prefix: string): string | undefined {
  if (!url.startsWith(prefix)) return undefined;
  const rest = url.slice(prefix.length);
  if (rest === '' || rest.startsWith('?')) return `/${rest}`;
  return rest.startsWith('/') ? rest : undefined;
}

function disagrees(read: OriginalRequest, claim: Claim): boolean {
  if (claim.method !== undefined && upper(claim.method) !== read.method) return true;
  if (claim.rawPath !== undefined && claim.rawPath !== read.rawPath) return true;
  if (claim.host !== undefined && parseHost(claim.host) !== read.host) return true;
  return false;
}

function header(
  headers: AuthRequestInput['headers'],
  name: string,
  onRepeat: FrontEndRefusal = 'ambiguous_header',
): string | undefined {
  const v = headers[name];
  if (Array.isArray(v)) throw new Refusal(onRepeat);
  return v;
}

function repeats(raw: readonly string[], names: readonly string[]): boolean {
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

function refusal(reason: FrontEndRefusal): { ok: false; reason: FrontEndRefusal } {
  return { ok: false, reason };
}
