import { hash } from 'node:crypto';
import { createVerifier, TokenError } from 'fast-jwt';
import type { VerificationKey } from './jwt-keys.js';

/** Why a presented token is refused (metric label values: a closed list). */
export const TOKEN_REFUSALS = [
  'malformed',
  'algorithm_not_allowed',
  'unknown_key',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_issuer',
  'wrong_audience',
  'missing_claims',
] as const;
export type TokenRefusal = (typeof TOKEN_REFUSALS)[number];

export interface VerifiedClaims {
  subject: string;
  jti: string;
  exp: number;
  email: string | null;
  groups: string[];
  /** the session (`sid`) and identity provider (`idp`) when the token carries them */
  sid: string | null;
  idp: string | null;
}

export type VerifyResult = { ok: true; claims: VerifiedClaims } | { ok: false; reason: TokenRefusal };

export interface VerifierOptions {
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  /** Verified tokens remembered (keyed by the whole token, never past exp); 0 = none. */
  cacheSize: number;
}

type Verify = (token: string) => Record<string, unknown>;

const MAX_TOKEN_LENGTH = 8192;
const B64URL_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Verifies JWTs against a set of public keys, each pinned to its own algorithm: the token's `kid`
 * chooses the key, and the header's `alg` must be that key's algorithm (no `none`, no HMAC keyed with
 * a public key, no algorithm the key was not made for). Then `iss`, `aud`, `exp`, `nbf` and the claims
 * the services rely on. Keys can be replaced at run time (JWKS refresh).
 */
export class TokenVerifier {
  private byKid = new Map<string, { algorithm: string; verify: Verify }>();
  /**
   * Verified tokens, each until its `exp`, keyed by the SHA-256 of the token's text: a repeat
   * presentation costs one hash and one map lookup (no base64, no JSON, no signature check) and returns
   * the same result object (no allocation). The digest (32 bytes) rather than the text (~500 bytes) is
   * the key because at 100,000 tokens this cache is most of a replica's heap; hashing the token costs
   * about what a map lookup by the whole text costs (V8 hashes and compares all of its characters).
   * Bounded (oldest first out); emptied when the keys change. Group lists are shared between tokens
   * that carry the same groups.
   */
  private verified = new Map<string, VerifyResult & { ok: true }>();
  private groupLists = new Map<string, string[]>();

  constructor(
    keys: readonly VerificationKey[],
    private readonly opts: VerifierOptions,
  ) {
    this.setKeys(keys);
  }

  setKeys(keys: readonly VerificationKey[]): void {
    this.verified = new Map();
    this.groupLists = new Map();
    const next = new Map<string, { algorithm: string; verify: Verify }>();
    for (const key of keys) {
      const verify = createVerifier({
        key: key.publicPem,
        algorithms: [key.algorithm],
        clockTolerance: this.opts.clockToleranceSeconds * 1000,
        requiredClaims: ['sub', 'jti', 'exp', 'iat', 'iss', 'aud'],
        cache: false,
      }) as Verify;
      for (const kid of key.kids) next.set(kid, { algorithm: key.algorithm, verify });
    }
    this.byKid = next;
  }

  /** The `kid` of a token's header, or undefined when the header is unreadable or has none. */
  static kidOf(token: string): string | undefined {
    const header = TokenVerifier.header(token);
    return typeof header?.kid === 'string' ? header.kid : undefined;
  }

  private static header(token: string): { alg?: unknown; kid?: unknown } | undefined {
    const dot = token.indexOf('.');
    if (dot <= 0 || dot > 1024) return undefined;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
      return typeof parsed === 'object' && parsed !== null ? (parsed as { alg?: unknown; kid?: unknown }) : undefined;
    } catch {
      return undefined;
    }
  }

  verify(token: string, now = Date.now()): VerifyResult {
    if (this.opts.cacheSize <= 0 || token.length > MAX_TOKEN_LENGTH) return this.verifyUncached(token);
    // 'binary': the 32 digest bytes as a 32-character string. A hit needs an entry, and an entry's token
    // passed the base64url check: ASCII, whose UTF-8 bytes (what is hashed) no other string shares.
    const key = hash('sha256', token, 'binary');
    const hit = this.verified.get(key);
    if (hit !== undefined) {
      if (hit.claims.exp * 1000 > now) return hit;
      this.verified.delete(key);
    }
    const result = this.verifyUncached(token);
    if (result.ok) {
      if (this.verified.size >= this.opts.cacheSize) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
      result.claims.groups = this.sharedGroups(result.claims.groups);
      this.verified.set(key, result);
    }
    return result;
  }

  /** One array per distinct group list (most users share a handful of them); bounded like the cache. */
  private sharedGroups(groups: string[]): string[] {
    if (groups.length === 0) return NO_GROUPS;
    const key = groups.join('\n'); // a group name with a newline only shares with an identical list
    const known = this.groupLists.get(key);
    if (known !== undefined && known.length === groups.length && known.every((g, i) => g === groups[i])) return known;
    if (this.groupLists.size >= 10_000) this.groupLists.clear();
    this.groupLists.set(key, groups);
    return groups;
  }

  private verifyUncached(token: string): VerifyResult {
    if (token.length > MAX_TOKEN_LENGTH || !B64URL_JWT.test(token)) return { ok: false, reason: 'malformed' };
    const header = TokenVerifier.header(token);
    if (!header) return { ok: false, reason: 'malformed' };
    const entry = typeof header.kid === 'string' ? this.byKid.get(header.kid) : undefined;
    if (!entry) return { ok: false, reason: 'unknown_key' };
    if (header.alg !== entry.algorithm) return { ok: false, reason: 'algorithm_not_allowed' };
    let payload: Record<string, unknown>;
    try {
      payload = entry.verify(token);
    } catch (err) {
      return { ok: false, reason: refusalOf(err) };
    }
    const { sub, jti, exp, iss, aud, email, groups, sid, idp } = payload;
    if (iss !== this.opts.issuer) return { ok: false, reason: 'wrong_issuer' };
    if (!(aud === this.opts.audience || (Array.isArray(aud) && aud.includes(this.opts.audience)))) {
      return { ok: false, reason: 'wrong_audience' };
    }
    if (
      typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || jti === '' || typeof exp !== 'number' ||
      (email !== undefined && email !== null && typeof email !== 'string') ||
      (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) ||
      (sid !== undefined && (typeof sid !== 'string' || sid === '')) ||
      (idp !== undefined && (typeof idp !== 'string' || idp === ''))
    ) {
      return { ok: false, reason: 'missing_claims' };
    }
    return { ok: true, claims: { subject: sub, jti, exp, email: email === sub ? sub : ((email as string | null | undefined) ?? null), groups: (groups as string[] | undefined) ?? [], sid: (sid as string | undefined) ?? null, idp: (idp as string | undefined) ?? null } };
  }
}

/** No groups: one shared empty list. */
const NO_GROUPS: string[] = [];

function refusalOf(err: unknown): TokenRefusal {
  if (!(err instanceof TokenError)) return 'malformed';
  switch (err.code) {
    case TokenError.codes.expired:
      return 'expired';
    case TokenError.codes.inactive:
      return 'not_yet_valid';
    case TokenError.codes.invalidSignature:
    case TokenError.codes.missingSignature:
      return 'bad_signature';
    case TokenError.codes.invalidAlgorithm:
      return 'algorithm_not_allowed';
    case TokenError.codes.missingRequiredClaim:
    case TokenError.codes.invalidClaimType:
    case TokenError.codes.invalidClaimValue:
      return 'missing_claims';
    default:
      return 'malformed';
  }
}
