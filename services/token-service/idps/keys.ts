/**
 * Signing keys of IdP certificates: two IdPs must never share one. Checked over the file's IdPs
 * (idps/file.ts) and again when a reload or a metadata refresh brings new certificates (idps/live.ts).
 */
import { X509Certificate } from 'node:crypto';

/** A certificate's public key (SPKI, base64 DER): what decides who can sign, whatever the certificate says. */
export const signingKeyOf = (pem: string): string => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

/**
 * Two IdPs that share a signing key are one signer: whoever holds it could sign as either, and a
 * response naming one could never be told from the other's. Refused (one line per pair).
 */
export function sharedKeyProblems(idps: readonly { name: string; certs: readonly string[] }[]): string[] {
  const owner = new Map<string, string>();
  const problems = new Set<string>();
  for (const { name, certs } of idps) {
    for (const pem of certs) {
      let key: string;
      try {
        key = signingKeyOf(pem);
      } catch {
        continue; // reported as a certificate problem
      }
      const other = owner.get(key);
      if (other !== undefined && other !== name) problems.add(`idp "${name}": certificates: its signing key is also idp "${other}"'s (two IdPs must not share a key: either could sign as the other)`);
      else owner.set(key, name);
    }
  }
  return [...problems];
}
