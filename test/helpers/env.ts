import { generateIdpKeys, type KeyPair } from '../../services/dev-idp/keys.js';
import { writePolicy, TEST_POLICY } from './authz.js';
import { AUDIENCE, ISSUER, newSigningKey } from './tokens.js';
import { samlJwtEnv } from './token-service.js';

let idp: Promise<KeyPair> | undefined;

/** A complete, valid environment for the token-service (everything but DATABASE_URL); `keys`: the IdP's. */
export async function tokenServiceEnv(idpKeys?: KeyPair): Promise<Record<string, string>> {
  const keys = idpKeys ?? (await (idp ??= generateIdpKeys()));
  return {
    ...samlJwtEnv(keys.cert, newSigningKey('ES256')),
    // Most tests redeem unsolicited responses (the dev IdP's tile); the product's default is false.
    SAML_ALLOW_IDP_INITIATED: 'true',
  };
}

/** A complete, valid environment for the authz-service (everything but DATABASE_URL). */
export async function authzServiceEnv(): Promise<Record<string, string>> {
  return {
    POLICY_FILE: await writePolicy(TEST_POLICY),
    JWT_PUBLIC_KEYS: newSigningKey('ES256').publicPem,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
  };
}
