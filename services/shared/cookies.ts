/**
 * The session cookie: its default name, the rules its prefix imposes, writing it, and reading the token
 * a request presents. Pure.
 */

/**
 * The default session cookie name (both services). `__Host-`: browsers accept it only with Secure, Path=/
 * and no Domain, so a sibling sub-domain cannot set or shadow it (cookie tossing).
 */
export const DEFAULT_COOKIE_NAME = '__Host-saml_authz';

/**
 * What is wrong with a cookie's name for its attributes, or undefined: browsers drop a `__Host-` cookie
 * with a Domain or without Secure, and a `__Secure-` one without Secure (prefixes compared
 * case-insensitively, as current browsers do), so such a configuration could never sign anyone in.
 */
export function cookiePrefixProblem(name: string, attrs: { domain?: string | undefined; secure: boolean }): string | undefined {
  const lower = name.toLowerCase();
  if (lower.startsWith('__host-')) {
    if (attrs.domain !== undefined) return `a __Host- cookie (${name}) cannot carry a Domain: unset COOKIE_DOMAIN, or set COOKIE_NAME on both services to a name without the __Host- prefix (e.g. __Secure-saml_authz)`;
    if (!attrs.secure) return `a __Host- cookie (${name}) requires Secure: set COOKIE_SECURE=true (browsers accept Secure cookies from http://localhost), or another COOKIE_NAME on both services`;
  }
  if (lower.startsWith('__secure-') && !attrs.secure) return `a __Secure- cookie (${name}) requires Secure: set COOKIE_SECURE=true, or another COOKIE_NAME on both services`;
  return undefined;
}

/**
 * Every value of the cookies named exactly `name` in a Cookie header (names trimmed, as browsers send
 * them; a header repeated by the client arrives joined with `; `). Two values mean someone else set one.
 */
export function readCookies(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (!header) return values;
  // Where the name next occurs: a cookie whose name part does not contain it is not it, so the
  // browser's other cookies (on every request through NGINX) are skipped without a copy each.
  let at = header.indexOf(name);
  let from = 0;
  while (from <= header.length && at !== -1) {
    let end = header.indexOf(';', from);
    if (end === -1) end = header.length;
    if (at < from) at = header.indexOf(name, from);
    const eq = header.indexOf('=', from);
    if (at !== -1 && at < eq && eq < end && header.slice(from, eq).trim() === name) values.push(header.slice(eq + 1, end).trim());
    from = end + 1;
  }
  return values;
}

/** The one value of a cookie; undefined when absent, empty or present more than once. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  const values = readCookies(header, name);
  return values.length === 1 && values[0] !== '' ? values[0] : undefined;
}

export interface CookieOptions {
  domain?: string;
  secure: boolean;
  sameSite: 'Lax' | 'Strict' | 'None';
  maxAgeSeconds: number;
}

/** A cookie: Path=/ and HttpOnly always; Secure, SameSite and Domain as given. */
export function serializeCookie(name: string, value: string, opts: CookieOptions): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', `SameSite=${opts.sameSite}`, `Max-Age=${opts.maxAgeSeconds}`];
  if (opts.secure) parts.push('Secure');
  if (opts.domain) parts.push(`Domain=${opts.domain}`);
  return parts.join('; ');
}

/** The token a request presents: none, one, or a request that cannot be read one way only. */
export type PresentedToken = { kind: 'none' } | { kind: 'token'; token: string; via: 'bearer' | 'cookie' } | { kind: 'ambiguous' };

/**
 * The presented token: `Authorization: Bearer …` when the request carries a Bearer credential, else
 * the session cookie (another scheme, such as Basic for the upstream app, does not hide the cookie).
 * A malformed Bearer value is returned as is, so that it is refused rather than ignored. A request
 * carrying the session cookie twice is ambiguous whatever else it carries: a browser sends two only
 * when another site (a sibling sub-domain) set one, and whoever reads "the" cookie downstream may pick
 * the other.
 */
export function presentedToken(authorization: string | undefined, cookieHeader: string | undefined, cookieName: string): PresentedToken {
  const cookies = readCookies(cookieHeader, cookieName);
  if (cookies.length > 1) return { kind: 'ambiguous' };
  if (authorization !== undefined && authorization.length > 7 && (authorization.startsWith('Bearer ') || authorization.slice(0, 7).toLowerCase() === 'bearer ')) {
    return { kind: 'token', token: authorization.slice(7).trim(), via: 'bearer' };
  }
  const cookie = cookies[0];
  return cookie === undefined || cookie === '' ? { kind: 'none' } : { kind: 'token', token: cookie, via: 'cookie' };
}
