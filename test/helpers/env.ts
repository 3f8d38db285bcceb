import { generateIdpKeys, type KeyPair } from '../../services/dev-idp/keys.js';
import { writePolicy, TEST_POLICY } from './authz.js';
import { AUDIENCE, ISSUER, newSigningKey } from './tokens.js';
import { ACS_URL, IDP_ISSUER, SP_ENTITY } from './token-service.js';

let idp: Promise<KeyPair> | undefined;

/** A complete, valid environment for the token-service (everything but DATABASE_URL); `keys`: the IdP's. */
export async function tokenServiceEnv(idpKeys?: KeyPair): Promise<Record<string, string>> {
  const keys = idpKeys ?? (await (idp ??= generateIdpKeys()));
  return {
    SAML_IDP_CERT: keys.cert,
    SAML_IDP_ISSUER: IDP_ISSUER,
    SAML_IDP_SSO_URL: 'https://idp.test.example/sso',
    SAML_SP_ENTITY_ID: SP_ENTITY,
    SAML_ACS_URL: ACS_URL,
    JWT_PRIVATE_KEY: newSigningKey('ES256').privatePem,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
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
