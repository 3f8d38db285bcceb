import { randomUUID } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import type { SigningKey } from '../../shared/jwt-keys.js';

/** What a new token says about its holder (`sub`, `email`, `groups`, `sid`) and how long it may live. */
export interface TokenClaims {
  subject: string;
  email: string | null;
  groups: string[];
  /** The session the token belongs to (claim `sid`). */
  sid?: string;
  /** The entity id of the IdP the holder signed in at (claim `idp`). */
  idp?: string;
  /** The token expires no later than this (the session's end); at most the configured lifetime. */
  notAfter?: Date;
}

export interface IssuedToken {
  token: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface IssuerOptions {
  key: SigningKey;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/** Signs short-lived JWTs with the first configured key; `kid` is that key's RFC 7638 thumbprint. */
export function createIssuer(opts: IssuerOptions): (claims: TokenClaims, now?: Date) => IssuedToken {
  const sign = createSigner({
    key: opts.key.privatePem,
    algorithm: opts.key.algorithm,
    kid: opts.key.kid,
  });
  return (claims, now = new Date()) => {
    const iat = Math.floor(now.getTime() / 1000);
    const cap = claims.notAfter === undefined ? Number.POSITIVE_INFINITY : Math.floor(claims.notAfter.getTime() / 1000);
    const exp = Math.min(iat + opts.ttlSeconds, cap);
    const jti = randomUUID();
    const token = sign({
      iss: opts.issuer,
      aud: opts.audience,
      sub: claims.subject,
      jti,
      iat,
      nbf: iat,
      exp,
      email: claims.email,
      groups: claims.groups,
      ...(claims.sid === undefined ? {} : { sid: claims.sid }),
      ...(claims.idp === undefined ? {} : { idp: claims.idp }),
    });
    return { token, jti, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
  };
}
