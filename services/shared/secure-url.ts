/**
 * https, or plain http to a loopback address only (a sidecar, a test): the rule for every URL whose
 * answer decides what is trusted (JWKS_URL, an IdP's metadataUrl). Pure.
 */
export function secureOrLoopback(url: string): boolean {
  const u = new URL(url);
  if (u.protocol === 'https:') return true;
  if (u.protocol !== 'http:') return false;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
