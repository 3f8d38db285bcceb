import { buildApp } from '../../services/token-service/app.js';
import { loadTokenServiceConfig, type TokenServiceConfig } from '../../services/token-service/config.js';
import type { App } from '../../services/shared/app-base.js';
import type { SamlSettings } from '../../services/token-service/saml/config.js';
import { generateIdpKeys, type KeyPair } from '../../services/dev-idp/keys.js';
import { signSamlResponse, type SignSamlResponseOptions } from '../../services/dev-idp/sign.js';
import type { SigningKey } from '../../services/shared/jwt-keys.js';
import { LogCapture } from './app.js';
import { AUDIENCE, ISSUER, newSigningKey } from './tokens.js';
import { ACS_URL, IDP_ISSUER, IDP_SSO_URL, SP_ENTITY } from './idp-sp.js';

export { ACS_URL, IDP_ISSUER, IDP_SSO_URL, SP_ENTITY };
export const RETURN_BASE = 'https://app.test.example/';

export interface TokenFixture {
  app: App;
  config: TokenServiceConfig;
  logs: LogCapture;
  idp: KeyPair;
  jwtKey: SigningKey;
  /** A signed SAML response for this service (IdP-initiated unless inResponseTo is given). */
  sign(over?: Partial<SignSamlResponseOptions>): Promise<{ samlResponse: string; assertionId: string }>;
}

let sharedIdp: Promise<KeyPair> | undefined;

/** The IdP, SP and JWT settings every test token-service shares (the IdP's certificate, the JWT signing key). */
export function samlJwtEnv(idpCert: string, jwtKey: SigningKey): Record<string, string> {
  return {
    SAML_IDP_CERT: idpCert,
    SAML_IDP_ISSUER: IDP_ISSUER,
    SAML_IDP_SSO_URL: IDP_SSO_URL,
    SAML_SP_ENTITY_ID: SP_ENTITY,
    SAML_ACS_URL: ACS_URL,
    JWT_PRIVATE_KEY: jwtKey.privatePem,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
  };
}

/** A token-service app on a test database, configured only through its environment. */
export async function buildTokenService(
  t: { teardown(fn: () => unknown): void },
  opts: { databaseUrl: string; env?: Record<string, string>; idp?: KeyPair; jwtKey?: SigningKey; idpsFile?: string },
): Promise<TokenFixture> {
  const idp = opts.idp ?? (await (sharedIdp ??= generateIdpKeys()));
  const jwtKey = opts.jwtKey ?? newSigningKey('ES256');
  const samlEnv: Record<string, string> = samlJwtEnv(idp.cert, jwtKey);
  // With SAML_IDPS_FILE, the single-IdP variables are not set (the service refuses both).
  if (opts.idpsFile !== undefined) {
    for (const name of ['SAML_IDP_CERT', 'SAML_IDP_ISSUER', 'SAML_IDP_SSO_URL']) delete samlEnv[name];
    samlEnv.SAML_IDPS_FILE = opts.idpsFile;
  }
  const config = loadTokenServiceConfig({
    DATABASE_URL: opts.databaseUrl,
    LOG_LEVEL: 'info',
    ...samlEnv,
    ALLOWED_RETURN_URLS: RETURN_BASE,
    SWEEP_INTERVAL_SECONDS: '0',
    // Most tests redeem unsolicited responses; the service default is off (tests of that default unset it).
    SAML_ALLOW_IDP_INITIATED: 'true',
    ...opts.env,
  });
  const logs = new LogCapture();
  const app = await buildApp(config, { logStream: logs });
  t.teardown(() => app.close());
  const sign = (over: Partial<SignSamlResponseOptions> = {}) =>
    signSamlResponse({
      idp,
      issuer: IDP_ISSUER,
      acsUrl: ACS_URL,
      audience: SP_ENTITY,
      nameId: 'alice@example.com',
      email: 'alice@example.com',
      groups: ['staff', 'admins'],
      ...over,
    });
  return { app, config, logs, idp, jwtKey, sign };
}

/** POST /saml/acs as a form, asking for JSON unless told otherwise. */
export function postAcs(app: App, samlResponse: string, opts: { relayState?: string; accept?: string; remote?: string; headers?: Record<string, string> } = {}) {
  const form = new URLSearchParams({ SAMLResponse: samlResponse, ...(opts.relayState !== undefined ? { RelayState: opts.relayState } : {}) });
  return app.inject({
    method: 'POST',
    url: '/saml/acs',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: opts.accept ?? 'application/json', ...opts.headers },
    payload: form.toString(),
    ...(opts.remote ? { remoteAddress: opts.remote } : {}),
  });
}

/** The single IdP's settings of a token-service configured with the SAML_IDP_* variables. */
export function envIdp(config: TokenServiceConfig): SamlSettings {
  if (config.idps.kind !== 'env') throw new Error('the token-service is configured with SAML_IDPS_FILE, not one IdP');
  return config.idps.idp;
}
