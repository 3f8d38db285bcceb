import { createHash, createPrivateKey, createPublicKey, type KeyObject, type JsonWebKey } from 'node:crypto';

export const JWT_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg?: string;
  use?: string;
}

/** The members RFC 7638 hashes, per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: the `kid` the token-service signs with. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new Error(`unsupported key type ${String(jwk.kty)}`);
  const canonical = `{${members.map((m) => `"${m}":${JSON.stringify((jwk as Record<string, unknown>)[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** Which algorithm a key can sign/verify: ES256 needs P-256, RS256 RSA ≥ 2048 bits, EdDSA Ed25519. */
export function algorithmFor(key: KeyObject): JwtAlgorithm | undefined {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      return details?.namedCurve === 'prime256v1' ? 'ES256' : undefined;
    case 'rsa':
      return (details?.modulusLength ?? 0) >= 2048 ? 'RS256' : undefined;
    case 'ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}

/** Splits a text holding one or more PEM blocks of the given label(s). */
export function splitPem(text: string, labels: RegExp = /[A-Z0-9 ]+/): string[] {
  const re = new RegExp(`-----BEGIN (${labels.source})-----[\\s\\S]*?-----END \\1-----`, 'g');
  return [...text.matchAll(re)].map((m) => `${m[0]}\n`);
}

export interface SigningKey {
  kid: string;
  algorithm: JwtAlgorithm;
  privatePem: string;
  publicPem: string;
  jwk: PublicJwk;
}

/**
 * JWT_PRIVATE_KEY: one or more PEM private keys. The first signs; all are published in the JWKS so
 * tokens signed by a key being rotated out keep verifying until it is removed.
 */
export function loadSigningKeys(text: string, algorithm: JwtAlgorithm): SigningKey[] {
  const pems = splitPem(text, /(?:EC |RSA |ENCRYPTED )?PRIVATE KEY/);
  if (pems.length === 0) throw new Error('no PEM private key found');
  return pems.map((pem, i) => {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new Error(`key #${i + 1} is not a readable unencrypted private key`);
    }
    const fits = algorithmFor(key);
    if (fits !== algorithm) {
      throw new Error(`key #${i + 1} (${key.asymmetricKeyType}) cannot sign ${algorithm}${fits ? ` (it fits ${fits})` : ''}`);
    }
    const publicKey = createPublicKey(key);
    const pub = publicKey.export({ format: 'jwk' });
    const kid = jwkThumbprint(pub);
    return {
      kid,
      algorithm,
      privatePem: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
      publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      jwk: { ...pub, kid, alg: algorithm, use: 'sig' },
    };
  });
}

/** A JWKS document (JSON text) publishing the public side of every key, each with its `kid`. */
export function jwksDocument(keys: readonly SigningKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

/** The verification side of the token-service's own keys (for /logout). */
export function verificationKeysOf(keys: readonly SigningKey[]): VerificationKey[] {
  return keys.map((k) => ({ kids: [k.kid], algorithm: k.algorithm, publicPem: k.publicPem }));
}

export interface VerificationKey {
  /** Every id the key answers to: its RFC 7638 thumbprint and, for a JWKS entry, its own `kid`. */
  kids: string[];
  algorithm: JwtAlgorithm;
  publicPem: string;
}

/**
 * JWT_PUBLIC_KEYS / JWKS_URL content: one or more PEM public keys, or a JWKS document. Keys that fit no
 * supported algorithm (or whose JWKS `alg` disagrees) are refused, never guessed.
 */
export function loadVerificationKeys(text: string): VerificationKey[] {
  const trimmed = text.trim();
  const keys: { key: KeyObject; kid?: string; alg?: string }[] = [];
  if (trimmed.startsWith('{')) {
    let doc: { keys?: unknown };
    try {
      doc = JSON.parse(trimmed) as { keys?: unknown };
    } catch {
      throw new Error('not valid JSON (expected a JWKS document or PEM public keys)');
    }
    if (!Array.isArray(doc.keys)) throw new Error('a JWKS document needs a "keys" array');
    doc.keys.forEach((entry: unknown, i: number) => {
      const jwk = entry as PublicJwk;
      if (jwk.use !== undefined && jwk.use !== 'sig') return;
      if ('d' in jwk) throw new Error(`JWKS key #${i + 1} holds private material`);
      let key: KeyObject;
      try {
        key = createPublicKey({ key: jwk, format: 'jwk' });
      } catch {
        throw new Error(`JWKS key #${i + 1} is not a usable public key`);
      }
      keys.push({ key, ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}), ...(typeof jwk.alg === 'string' ? { alg: jwk.alg } : {}) });
    });
  } else {
    const pems = splitPem(trimmed, /PUBLIC KEY|CERTIFICATE/);
    if (pems.length === 0) throw new Error('no PEM public key found');
    pems.forEach((pem, i) => {
      try {
        keys.push({ key: createPublicKey(pem) });
      } catch {
        throw new Error(`PEM block #${i + 1} is not a readable public key`);
      }
    });
  }
  if (keys.length === 0) throw new Error('no signing key found');
  return keys.map(({ key, kid, alg }, i) => {
    const algorithm = algorithmFor(key);
    if (!algorithm) throw new Error(`key #${i + 1} (${key.asymmetricKeyType}) fits no supported algorithm (${JWT_ALGORITHMS.join(', ')})`);
    if (alg !== undefined && alg !== algorithm) throw new Error(`key #${i + 1} says alg ${alg} but is a ${algorithm} key`);
    const thumbprint = jwkThumbprint(key.export({ format: 'jwk' }));
    return {
      kids: kid !== undefined && kid !== thumbprint ? [thumbprint, kid] : [thumbprint],
      algorithm,
      publicPem: key.export({ format: 'pem', type: 'spki' }).toString(),
    };
  });
}
