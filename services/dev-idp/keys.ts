import { generate } from 'selfsigned';

/** A PEM private key and its self-signed PEM certificate. */
export interface KeyPair {
  key: string;
  cert: string;
}

async function selfSigned(commonName: string, days: number): Promise<KeyPair> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + days * 86_400_000),
  });
  return { key: pems.private, cert: pems.cert };
}

/** The development IdP's signing key: RSA 2048, certificate signed with SHA-256. For dev and tests only. */
export function generateIdpKeys(commonName = 'saml-authz dev IdP', days = 365): Promise<KeyPair> {
  return selfSigned(commonName, days);
}

/** An SP encryption key pair (the IdP encrypts assertions to `cert`; the SP decrypts with `key`). */
export function generateSpEncryptionKeys(commonName = 'saml-authz dev SP encryption', days = 365): Promise<KeyPair> {
  return selfSigned(commonName, days);
}
