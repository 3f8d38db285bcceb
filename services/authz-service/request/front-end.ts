/**
 * Reads the original request (method, host, raw path+query) from the headers of the one front end
 * the deployment names. Never falls back from one header set to another: a client can send any
 * header its proxy does not overwrite. Headers of another front end that disagree are refused. Pure.
 */
import { parseHost } from '../../shared/host.js';
import { HTTP_TOKEN } from '../../shared/http-token.js';
import { Recent } from '../../shared/recent.js';
import { Refusal, envoyPath, header, repeats, splitAbsoluteUrl, upper } from './headers.js';
import { disagrees, readClaim, upstreamDisagrees } from './other-front-ends.js';

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

/** The original request's method (upper-cased) and host (parseHost) per distinct value: they repeat. */
const METHODS = new Recent((method) => (HTTP_TOKEN.test(method) ? upper(method) : null), 64, 32);
const HOSTS = new Recent(parseHost, 1024, 261); // a name of 253, a colon and a port

const DEFAULTS: FrontEndOptions = { envoyPathPrefix: '/auth/ext' };
/** Headers that make frameworks (Express method-override, Spring, Rails, Laravel…) run another method. */
export const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;

/** Headers each front end reads; used to refuse a repeated one. */
const HEADERS: Record<FrontEnd, readonly string[]> = {
  nginx: ['x-original-uri', 'x-original-method', 'host'],
  'ingress-nginx': ['x-original-url', 'x-original-method', 'x-auth-request-redirect'],
  traefik: ['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri'],
  envoy: ['host'],
};

export function readOriginalRequest(
  frontEnd: FrontEnd,
  input: AuthRequestInput,
  options: Partial<FrontEndOptions> = {},
): ReadResult {
  const opts = options.envoyPathPrefix !== undefined ? (options as FrontEndOptions) : { ...DEFAULTS, ...options };
  const headers = input.headers; // read once: on Node's request it is a getter
  try {
    if (input.rawHeaders && repeats(input.rawHeaders, HEADERS[frontEnd])) return refusal('ambiguous_header');
    const read = readConfigured(frontEnd, input, headers, opts);
    if (!read) return refusal('missing_original_request');
    for (const other of FRONT_ENDS) {
      if (other === frontEnd) continue;
      const claim = readClaim(other, input.url, headers, opts);
      if (claim && disagrees(read, claim)) return refusal('conflicting_front_end_headers');
    }
    if (upstreamDisagrees(read, headers)) return refusal('conflicting_front_end_headers');
    return withOverride(read, headers, opts);
  } catch (err) {
    if (err instanceof Refusal) return refusal(err.reason);
    throw err;
  }
}

/** The configured front end: every header it sends is required and validated. */
function readConfigured(fe: FrontEnd, input: AuthRequestInput, headers: AuthRequestInput['headers'], opts: FrontEndOptions): OriginalRequest | null {
  const h = (name: string) => header(headers, name);
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
  const validMethod = METHODS.get(method);
  if (validMethod === null) throw new Refusal('bad_method');
  const validHost = HOSTS.get(host);
  if (validHost === null) throw new Refusal('bad_host');
  return { ok: true, method: validMethod, host: validHost, rawPath };
}

/**
 * A method-override header asks the application to run another method than the one the rules
 * see: refused, unless the operator allows overrides; then the override is returned so that the
 * decision can hold for both methods.
 */
function withOverride(read: OriginalRequest, headers: AuthRequestInput['headers'], opts: FrontEndOptions): ReadResult {
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

function refusal(reason: FrontEndRefusal): { ok: false; reason: FrontEndRefusal } {
  return { ok: false, reason };
}
