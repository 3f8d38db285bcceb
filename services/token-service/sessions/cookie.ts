import { createHash, randomBytes } from 'node:crypto';
import { readCookies, serializeCookie } from '../../shared/cookies.js';
import type { TokenServiceConfig } from '../config.js';

/**
 * The renewal credential: an opaque random secret in its own cookie (COOKIE_NAME + `_session`, so
 * `__Host-` by default: HttpOnly, Secure, Path=/, no Domain, SameSite as COOKIE_SAMESITE, Lax by default).
 * Postgres keeps only its SHA-256, so a copy of the database renews nothing. It lives as long as the
 * session's absolute expiry. Not the JWT: the JWT is also a bearer credential that programs, logs and
 * upstreams see, and an expired one must stay dead; the secret only ever goes to the token-service's
 * /saml/login and /logout (and, unless NGINX strips it, to upstreams behind the same host). Pure.
 */
const SECRET = /^[A-Za-z0-9_-]{43}$/;

export function hashSessionSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function newSessionSecret(): { secret: string; hash: Buffer } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: hashSessionSecret(secret) };
}

/** What the browser presents: none, one well-formed secret (as its hash), or an ambiguous/garbled cookie. */
export type PresentedSession = { kind: 'none' } | { kind: 'secret'; hash: Buffer } | { kind: 'ambiguous' } | { kind: 'malformed' };

export function presentedSession(cookieHeader: string | undefined, config: TokenServiceConfig): PresentedSession {
  const values = readCookies(cookieHeader, config.session.cookieName);
  if (values.length > 1) return { kind: 'ambiguous' };
  const value = values[0];
  if (value === undefined || value === '') return { kind: 'none' };
  return SECRET.test(value) ? { kind: 'secret', hash: hashSessionSecret(value) } : { kind: 'malformed' };
}

export function sessionCookie(config: TokenServiceConfig, secret: string, expiresAt: Date, now: Date = new Date()): string {
  const maxAgeSeconds = Math.max(1, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
  return serializeCookie(config.session.cookieName, secret, { ...config.cookie, maxAgeSeconds });
}

/** Both cookies cleared: the token's and the session's. */
export function clearedCookies(config: TokenServiceConfig): string[] {
  return [config.cookie.name, config.session.cookieName].map((name) => serializeCookie(name, '', { ...config.cookie, maxAgeSeconds: 0 }));
}
