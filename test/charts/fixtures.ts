/**
 * Secrets for rendering the charts from values: generated per run, written to a temp dir, and passed
 * with --set-file as an operator would. Nothing here is a placeholder that could reach a cluster.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { RenderOptions } from './render.js';

export interface SecretFiles {
  dir: string;
  databaseUrl: string;
  jwtPrivateKey: string;
  /** A second signing key (a rotation). */
  jwtPrivateKey2: string;
  jwtPublicKey: string;
  idpCert: string;
  cleanup(): void;
}

export async function makeSecretFiles(): Promise<SecretFiles> {
  const dir = mkdtempSync(join(tmpdir(), 'saml-authz-chart-secrets-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const jwt = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const idp = await generate([{ name: 'commonName', value: 'chart test IdP' }], { keySize: 2048, algorithm: 'sha256' });
  return {
    dir,
    databaseUrl: write('database-url', `postgres://saml_authz:${randomBytes(12).toString('hex')}@db.example.internal:5432/saml_authz?sslmode=require`),
    jwtPrivateKey: write('jwt.pem', jwt.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    jwtPrivateKey2: write('jwt2.pem', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    jwtPublicKey: write('jwt.pub.pem', jwt.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    idpCert: write('idp.pem', idp.cert),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The token-service chart's required settings for one IdP (with the secrets of makeSecretFiles). */
export const TOKEN_SERVICE_SET = {
  'config.saml.idpIssuer': 'http://www.okta.com/exk1example',
  'config.saml.idpSsoUrl': 'https://example.okta.com/app/example/sso/saml',
  'config.saml.spEntityId': 'https://login.example.com/saml/metadata',
  'config.saml.acsUrl': 'https://login.example.com/saml/acs',
  'config.jwt.issuer': 'https://login.example.com',
  'config.jwt.audience': 'saml-authz',
} as const;

/** The authz-service chart's required settings and a one-rule policy admitting everyone signed in. */
export const AUTHZ_SERVICE_SET = {
  'config.jwt.issuer': 'https://login.example.com',
  'config.jwt.audience': 'saml-authz',
  'config.jwt.jwksUrl': 'http://token-service.auth.svc.cluster.local/.well-known/jwks.json',
  'policy.rules[0].id': 'app-employees',
  'policy.rules[0].effect': 'allow',
  'policy.rules[0].paths[0]': '/**',
} as const;

/** Each chart's minimal render: its required settings, and these secrets passed with --set-file. */
export function minimalRenders(secrets: SecretFiles): { token: RenderOptions; authz: RenderOptions } {
  return {
    token: {
      set: TOKEN_SERVICE_SET,
      setFile: { 'secrets.databaseUrl.value': secrets.databaseUrl, 'secrets.jwtPrivateKeys.value': secrets.jwtPrivateKey, 'secrets.idpCertificates.value': secrets.idpCert },
    },
    authz: { set: AUTHZ_SERVICE_SET, setFile: { 'secrets.databaseUrl.value': secrets.databaseUrl } },
  };
}
