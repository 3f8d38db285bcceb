import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import type { Kysely } from 'kysely';
import type { Database } from '../../services/shared/db/schema.js';
import { loadSigningKeys, type JwtAlgorithm, type SigningKey } from '../../services/shared/jwt-keys.js';
import { insertToken } from '../../services/token-service/store/tokens.js';

export const ISSUER = 'https://token.test.example';
export const AUDIENCE = 'saml-authz-test';

/** A fresh signing key of the given algorithm, loaded the way the token-service loads JWT_PRIVATE_KEY. */
export function newSigningKey(algorithm: JwtAlgorithm = 'ES256'): SigningKey {
  const pair =
    algorithm === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : algorithm === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return loadSigningKeys(pem, algorithm)[0]!;
}

export interface MintOptions {
  subject?: string;
  email?: string | null;
  groups?: string[];
  jti?: string;
  iat?: number;
  nbf?: number;
  exp?: number;
  iss?: string;
  aud?: string;
  kid?: string;
  extra?: Record<string, unknown>;
}

/** Signs a token with full control over its claims (for forged and edge-case tokens). */
export function mint(key: SigningKey, o: MintOptions = {}): { token: string; jti: string; exp: number; subject: string } {
  const now = Math.floor(Date.now() / 1000);
  const jti = o.jti ?? randomUUID();
  const exp = o.exp ?? now + 600;
  const subject = o.subject ?? 'alice@example.com';
  const sign = createSigner({ key: key.privatePem, algorithm: key.algorithm, kid: o.kid ?? key.kid });
  const token = sign({
    iss: o.iss ?? ISSUER,
    aud: o.aud ?? AUDIENCE,
    sub: subject,
    jti,
    iat: o.iat ?? now,
    nbf: o.nbf ?? now,
    exp,
    email: o.email === undefined ? 'alice@example.com' : o.email,
    groups: o.groups ?? ['staff'],
    ...o.extra,
  });
  return { token, jti, exp, subject };
}

/** Mints a token and writes its row, as the token-service would. */
export async function mintLive(db: Kysely<Database>, key: SigningKey, o: MintOptions = {}): Promise<{ token: string; jti: string }> {
  const t = mint(key, o);
  const now = Date.now();
  await insertToken(db, {
    jti: t.jti,
    subject: t.subject,
    email: o.email === undefined ? 'alice@example.com' : o.email,
    groups: o.groups ?? ['staff'],
    idpIssuer: 'https://idp.test.example',
    sessionIndex: null,
    clientAddress: '127.0.0.1',
    issuedAt: new Date(Math.min(now - 1000, t.exp * 1000 - 1000)),
    expiresAt: new Date(t.exp * 1000),
  });
  return { token: t.token, jti: t.jti };
}
