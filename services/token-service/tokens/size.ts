/**
 * The largest token each delivery can carry, so that the ACS never issues a token that is dropped
 * on the way (issue 12 item 11: a user in ~170 groups got an 8.8 KB token, refused by `/auth` and
 * dropped by the browser, and looped on sign-in).
 *
 * - Cookie: browsers drop a cookie whose `name=value` is larger than 4096 bytes (Chrome), 4097
 *   (Firefox) or 4093 (Safari): the smallest is the bound.
 * - Bearer: `/auth` refuses a token over 8192 characters (shared/jwt-verify.ts), and NGINX's default
 *   `large_client_header_buffers 4 8k` must hold the whole `Authorization: Bearer …` line.
 */
export const COOKIE_MAX_BYTES = 4093;
export const BEARER_MAX_BYTES = 8192 - 'Authorization: Bearer \r\n'.length;

export interface Oversize {
  bytes: number;
  limit: number;
}

/** Null when the token fits its delivery: a cookie named `cookieName`, or a bearer token (`null`). */
export function oversize(token: string, cookieName: string | null): Oversize | null {
  const bytes = Buffer.byteLength(cookieName === null ? token : `${cookieName}=${token}`);
  const limit = cookieName === null ? BEARER_MAX_BYTES : COOKIE_MAX_BYTES;
  return bytes > limit ? { bytes, limit } : null;
}
