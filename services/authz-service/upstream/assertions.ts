import { createSigner } from 'fast-jwt';
import type { VerifiedClaims } from '../../shared/jwt-verify.js';
import type { UpstreamJwtConfig } from './config.js';

export const ASSERTION_CACHE_EVENTS = ['hit', 'miss', 'renewal', 'eviction', 'revoked'] as const;
export type AssertionCacheEvent = (typeof ASSERTION_CACHE_EVENTS)[number];

/** Audiences remembered per user token (one per host or rule audience it is used on). */
const MAX_AUDIENCES_PER_TOKEN = 8;

interface Entry {
  audience: string;
  token: string;
  /** epoch ms until which this assertion is handed out again */
  reuseUntil: number;
  /** the user token's subject, checked on every reuse (a token id names one subject) */
  subject: string;
  next: Entry | null;
}

export interface AssertionOptions {
  onSigned?: () => void;
  onEvent?: (event: AssertionCacheEvent) => void;
}

/**
 * `X-Auth-Request-Jwt`: a short-lived JWT the authz-service signs with its own key (the first of
 * UPSTREAM_JWT_PRIVATE_KEY) for the upstream, cached per (user token id, audience) so that the steady
 * state signs nothing. An assertion is handed out again until a third of its lifetime is left (the
 * upstream always gets at least that much), never past the user token's `exp`; revocations and lost
 * notifications drop it (see app.ts). The caller asks only for a token the liveness check found live.
 */
export class UpstreamAssertions {
  private readonly entries = new Map<string, Entry>();
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly marginSeconds: number;

  constructor(
    private readonly config: UpstreamJwtConfig,
    private readonly opts: AssertionOptions = {},
  ) {
    const key = config.keys[0]!;
    this.sign = createSigner({ key: key.privatePem, algorithm: key.algorithm, kid: key.kid });
    this.marginSeconds = Math.ceil(config.ttlSeconds / 3);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The assertion for this verified (and live) user token and audience; null when the token is within
   * a second of its expiry (accepted only through clock skew): no assertion can be valid then.
   */
  get(claims: VerifiedClaims, audience: string, now: number): string | null {
    const head = this.entries.get(claims.jti);
    let depth = 0;
    for (let e: Entry | null = head ?? null; e !== null; e = e.next, depth++) {
      if (e.audience !== audience) continue;
      if (e.reuseUntil > now && e.subject === claims.subject) {
        this.opts.onEvent?.('hit');
        return e.token;
      }
      this.opts.onEvent?.('renewal');
      const token = this.signFor(claims, audience, now);
      if (token === null) return null;
      e.token = token.token;
      e.reuseUntil = token.reuseUntil;
      e.subject = claims.subject;
      return e.token;
    }
    this.opts.onEvent?.('miss');
    const signed = this.signFor(claims, audience, now);
    if (signed === null) return null;
    const entry: Entry = { audience, token: signed.token, reuseUntil: signed.reuseUntil, subject: claims.subject, next: null };
    if (head !== undefined) {
      // Newest audience first; a token used on more hosts than this forgets its oldest.
      entry.next = depth >= MAX_AUDIENCES_PER_TOKEN ? truncate(head, MAX_AUDIENCES_PER_TOKEN - 1) : head;
      this.entries.set(claims.jti, entry);
      return entry.token;
    }
    if (this.entries.size >= this.config.cacheMaxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) {
        this.entries.delete(oldest);
        this.opts.onEvent?.('eviction');
      }
    }
    this.entries.set(claims.jti, entry);
    return entry.token;
  }

  private signFor(claims: VerifiedClaims, audience: string, now: number): { token: string; reuseUntil: number } | null {
    const iat = Math.floor(now / 1000);
    const exp = Math.min(iat + this.config.ttlSeconds, claims.exp);
    if (exp * 1000 - now < 1000) return null;
    const payload: Record<string, unknown> = { iss: this.config.issuer, aud: audience, sub: claims.subject };
    if (claims.email !== null) payload.email = claims.email;
    payload.groups = claims.groups;
    if (claims.sid !== null) payload.sid = claims.sid;
    if (claims.idp !== null) payload.idp = claims.idp;
    payload.iat = iat;
    payload.exp = exp;
    const token = this.sign(payload);
    this.opts.onSigned?.();
    // Capped by the user token: signing again would give the same exp, so it serves until then.
    const reuseUntil = exp === claims.exp ? exp * 1000 : (exp - this.marginSeconds) * 1000;
    return { token, reuseUntil };
  }

  /** A revocation (NOTIFY): the token's assertions are gone at once. */
  revoke(jti: string): void {
    if (this.entries.delete(jti)) this.opts.onEvent?.('revoked');
  }

  /** Forget every assertion (notifications may have been missed). */
  clear(): void {
    this.entries.clear();
  }
}

function truncate(head: Entry, keep: number): Entry {
  let e = head;
  for (let i = 1; i < keep && e.next !== null; i++) e = e.next;
  e.next = null;
  return head;
}

/** `host[:port]` → host: the default audience (IPv6 literals keep their brackets). */
export function hostWithoutPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return host;
  if (host.charCodeAt(0) === 0x5b) {
    const close = host.indexOf(']');
    return close > 0 ? host.slice(0, close + 1) : host;
  }
  return host.slice(0, colon);
}
