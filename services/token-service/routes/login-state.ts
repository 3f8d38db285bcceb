import { createHash, randomBytes } from 'node:crypto';
import { readCookies, serializeCookie } from '../../shared/cookies.js';

/**
 * Binds an SP-initiated login to the browser that started it (login CSRF). `/saml/login` gives the
 * browser a random nonce in a cookie of its own per request id, and Postgres keeps only the nonce's
 * SHA-256 with the request id; the ACS sets a session cookie for a response answering that request
 * only when the same browser brings the nonce back. One cookie per request id, so that several tabs
 * can sign in at once; each lives as long as the request id and is cleared when used.
 *
 * `__Host-`, Secure, Path=/, no Domain: no other site, sibling sub-domains included, can set it.
 * SameSite=None: the IdP's form post to the ACS is a cross-site POST, which never carries a Lax cookie.
 * Pure.
 */
export const LOGIN_STATE_PREFIX = '__Host-saml_login_';

/** The state cookie's name for a request id: a hash of it, so that any InResponseTo maps to a valid name. */
export function loginStateCookieName(requestId: string): string {
  return `${LOGIN_STATE_PREFIX}${createHash('sha256').update(requestId).digest('base64url').slice(0, 16)}`;
}

export function hashLoginState(nonce: string): Buffer {
  return createHash('sha256').update(nonce).digest();
}

/** A new login state for a request id: the Set-Cookie value for the browser and the hash for Postgres. */
export function newLoginState(requestId: string, ttlSeconds: number): { setCookie: string; stateHash: Buffer } {
  const nonce = randomBytes(32).toString('base64url');
  return {
    setCookie: serializeCookie(loginStateCookieName(requestId), nonce, { secure: true, sameSite: 'None', maxAgeSeconds: ttlSeconds }),
    stateHash: hashLoginState(nonce),
  };
}

/** The hash of the state this browser holds for a request id; undefined when it holds none (or two). */
export function presentedLoginState(cookieHeader: string | undefined, requestId: string): Buffer | undefined {
  const values = readCookies(cookieHeader, loginStateCookieName(requestId));
  return values.length === 1 && values[0] !== '' ? hashLoginState(values[0]!) : undefined;
}

/** Set-Cookie that removes the state cookie of a request id. */
export function clearLoginState(requestId: string): string {
  return serializeCookie(loginStateCookieName(requestId), '', { secure: true, sameSite: 'None', maxAgeSeconds: 0 });
}
