import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateIdpKeys, generateSpEncryptionKeys, type KeyPair } from '../dev-idp/keys.js';

/** Development keys, generated on first run into a git-ignored folder and reused afterwards. */
export async function devKeys(dir: string): Promise<{ jwtPrivateKey: string; idp: KeyPair; spSigning: KeyPair }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const jwtFile = join(dir, 'jwt-es256.pem');
  if (!existsSync(jwtFile)) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(jwtFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  }
  const idpKey = join(dir, 'dev-idp.key.pem');
  const idpCert = join(dir, 'dev-idp.cert.pem');
  if (!existsSync(idpKey) || !existsSync(idpCert)) {
    const pair = await generateIdpKeys('saml-authz development IdP', 3650);
    await writeFile(idpKey, pair.key, { mode: 0o600 });
    await writeFile(idpCert, pair.cert);
  }
  // The SP's SAML signing key (logout messages): RSA, as IdPs verify rsa-sha256.
  const spKey = join(dir, 'sp-signing.key.pem');
  const spCert = join(dir, 'sp-signing.cert.pem');
  if (!existsSync(spKey) || !existsSync(spCert)) {
    const pair = await generateSpEncryptionKeys('saml-authz development SP signing', 3650);
    await writeFile(spKey, pair.key, { mode: 0o600 });
    await writeFile(spCert, pair.cert);
  }
  return {
    spSigning: { key: await readFile(spKey, 'utf8'), cert: await readFile(spCert, 'utf8') },
    jwtPrivateKey: await readFile(jwtFile, 'utf8'),
    idp: { key: await readFile(idpKey, 'utf8'), cert: await readFile(idpCert, 'utf8') },
  };
}
