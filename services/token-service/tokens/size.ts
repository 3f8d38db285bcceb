/**
 * The largest token the ACS issues, so that it never issues one that is dropped on the way (issue 12
 * item 11: a user in ~170 groups got an 8.8 KB token, refused by `/auth` and dropped by the browser
 * as a cookie, and looped on sign-in).
 *
 * One bound for every client, the cookie's: browsers drop a cookie whose `name=value` is larger than
 * 4096 bytes (Chrome), 4097 (Firefox) or 4093 (Safari), and the smallest is the bound. It is well
 * below what a bearer token may be (`/auth` refuses over 8192 characters, shared/jwt-verify.ts, and
 * NGINX's default `large_client_header_buffers 4 8k` must hold the `Authorization: Bearer …` line),
 * so a user either signs in everywhere or is told why nowhere, and the identity headers `/auth`
 * answers with (`X-Auth-Request-Groups`) stay near NGINX's default 4k `proxy_buffer_size`.
 */
export const COOKIE_MAX_BYTES = 4093;
export const BEARER_MAX_BYTES = 8192 - 'Authorization: Bearer \r\n'.length;

export interface Oversize {
  bytes: number;
  limit: number;
}

/** Null when `cookieName=token` fits every browser (and so the bearer limit too). */
export function oversize(token: string, cookieName: string): Oversize | null {
  const bytes = Buffer.byteLength(`${cookieName}=${token}`);
  return bytes > COOKIE_MAX_BYTES ? { bytes, limit: COOKIE_MAX_BYTES } : null;
}
