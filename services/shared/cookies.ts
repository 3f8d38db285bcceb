/** Reads one cookie's value from a Cookie header without allocating a map of all of them. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(';', from);
    if (end === -1) end = header.length;
    let start = from;
    while (header.charCodeAt(start) === 32) start++;
    if (header.startsWith(name, start) && header.charCodeAt(start + name.length) === 61 /* = */) {
      const value = header.slice(start + name.length + 1, end).trim();
      return value.length > 0 ? value : undefined;
    }
    from = end + 1;
  }
  return undefined;
}

export interface CookieOptions {
  domain?: string;
  secure: boolean;
  sameSite: 'Lax' | 'Strict';
  maxAgeSeconds: number;
}

/** A session cookie: HttpOnly always; Secure and SameSite as configured (Secure by default). */
export function serializeCookie(name: string, value: string, opts: CookieOptions): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', `SameSite=${opts.sameSite}`, `Max-Age=${opts.maxAgeSeconds}`];
  if (opts.secure) parts.push('Secure');
  if (opts.domain) parts.push(`Domain=${opts.domain}`);
  return parts.join('; ');
}

/**
 * The presented token: `Authorization: Bearer …` when the request carries a Bearer credential, else
 * the session cookie (another scheme, such as Basic for the upstream app, does not hide the cookie).
 * A malformed Bearer value is returned as is, so that it is refused rather than ignored.
 */
export function presentedToken(authorization: string | undefined, cookieHeader: string | undefined, cookieName: string): string | undefined {
  if (authorization !== undefined && authorization.length > 7 && authorization.slice(0, 7).toLowerCase() === 'bearer ') {
    return authorization.slice(7).trim();
  }
  return readCookie(cookieHeader, cookieName);
}
