import { X509Certificate, createPrivateKey, sign, verify } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { refuseSlo } from './slo-reasons.js';

/**
 * The SAML HTTP-Redirect binding (bindings 3.4): the message deflated, base64, URL-encoded, and a
 * signature over `SAMLRequest|SAMLResponse=…[&RelayState=…]&SigAlg=…` exactly as those parameters
 * appear in the query string. We sign what we send and verify what was sent: node-saml's redirect
 * check accepts a query without a Signature and finds parameters by regular expression, so this one
 * is ours (node:crypto).
 */
export const SIG_ALGS = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': { hash: 'sha256', ec: false },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384': { hash: 'sha384', ec: false },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': { hash: 'sha512', ec: false },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256': { hash: 'sha256', ec: true },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384': { hash: 'sha384', ec: true },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512': { hash: 'sha512', ec: true },
} as const;
export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const WEAK_SIG_ALG = /[#-](sha1|md5)$/i;

export type MessageParam = 'SAMLRequest' | 'SAMLResponse';

/**
 * The URL that carries `xml` to `target` in the HTTP-Redirect binding, signed with RSA-SHA256 by
 * `key` (PEM). `target` may already hold a query (kept, before ours).
 */
export function redirectUrl(target: string, param: MessageParam, xml: string, key: string, relayState?: string): string {
  const message = deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64');
  let signed = `${param}=${encodeURIComponent(message)}`;
  if (relayState !== undefined && relayState !== '') signed += `&RelayState=${encodeURIComponent(relayState)}`;
  signed += `&SigAlg=${encodeURIComponent(RSA_SHA256)}`;
  const signature = sign('sha256', Buffer.from(signed, 'utf8'), createPrivateKey(key)).toString('base64');
  const url = new URL(target);
  const base = url.search === '' || url.search === '?' ? `${url.origin}${url.pathname}?` : `${url.origin}${url.pathname}${url.search}&`;
  return `${base}${signed}&Signature=${encodeURIComponent(signature)}`;
}

/** Signs the query of an unsigned HTTP-Redirect URL (node-saml's AuthnRequest) the same way. */
export function signRedirectUrl(unsigned: string, param: MessageParam, key: string): string {
  const url = new URL(unsigned);
  const message = url.searchParams.get(param);
  if (message === null) throw new Error(`no ${param} in the URL`);
  const relayState = url.searchParams.get('RelayState') ?? undefined;
  for (const p of [param, 'RelayState', 'SigAlg', 'Signature']) url.searchParams.delete(p);
  const xml = inflateRawSync(Buffer.from(message, 'base64')).toString('utf8');
  return redirectUrl(url.href, param, xml, key, relayState);
}

export interface RedirectMessage {
  param: MessageParam;
  /** The inflated message bytes. */
  xml: Buffer;
  relayState?: string;
}

const PARAMS = ['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature'] as const;

/**
 * Reads a received HTTP-Redirect query (the raw query string, as sent) and verifies its signature
 * against `certs` only. Refusals: `wrong_binding` (none or both messages, a repeated parameter),
 * `unsigned`, `weak_algorithm`, `unsupported_algorithm`, `bad_signature`, `too_large`, `malformed`.
 * The signature is checked before the message is inflated.
 */
export function readRedirect(rawQuery: string, certs: readonly string[], maxBytes: number): RedirectMessage {
  const { raw, param, messageRaw } = redirectParams(rawQuery, maxBytes);
  const sigAlgRaw = raw.get('SigAlg');
  const signatureRaw = raw.get('Signature');
  if (sigAlgRaw === undefined || signatureRaw === undefined || signatureRaw === '') refuseSlo('unsigned', 'no Signature and SigAlg in the query');

  const sigAlg = decode(sigAlgRaw, 'SigAlg');
  if (WEAK_SIG_ALG.test(sigAlg)) refuseSlo('weak_algorithm', `SigAlg ${sigAlg.slice(0, 100)}`);
  const alg = (SIG_ALGS as Record<string, { hash: string; ec: boolean }>)[sigAlg];
  if (alg === undefined) refuseSlo('unsupported_algorithm', `SigAlg ${sigAlg.slice(0, 100)}`);
  const signature = Buffer.from(decode(signatureRaw, 'Signature', true), 'base64');
  const relayStateRaw = raw.get('RelayState');
  const signed = Buffer.from(`${param}=${messageRaw}${relayStateRaw === undefined ? '' : `&RelayState=${relayStateRaw}`}&SigAlg=${sigAlgRaw}`, 'utf8');
  const ok = certs.some((pem) => {
    try {
      const key = new X509Certificate(pem).publicKey;
      if ((key.asymmetricKeyType === 'ec') !== alg.ec) return false;
      return verify(alg.hash, signed, alg.ec ? { key, dsaEncoding: 'ieee-p1363' } : key, signature);
    } catch {
      return false;
    }
  });
  if (!ok) refuseSlo('bad_signature', 'the query signature does not verify with a configured IdP certificate');
  return { param, xml: inflated(messageRaw, param, maxBytes), ...(relayStateRaw === undefined ? {} : { relayState: decode(relayStateRaw, 'RelayState') }) };
}

/**
 * The message of an HTTP-Redirect query, inflated, its signature NOT checked: only to read whose keys
 * must verify it (the Issuer); `readRedirect` reads it again, after the signature. Same refusals.
 */
export function unverifiedRedirectMessage(rawQuery: string, maxBytes: number): Buffer {
  const { param, messageRaw } = redirectParams(rawQuery, maxBytes);
  return inflated(messageRaw, param, maxBytes);
}

/** The binding's parameters as sent (each at most once) and which message the query carries (not too large). */
function redirectParams(rawQuery: string, maxBytes: number): { raw: Map<string, string>; param: MessageParam; messageRaw: string } {
  const raw = new Map<string, string>();
  for (const token of rawQuery.split('&')) {
    const eq = token.indexOf('=');
    const name = eq === -1 ? token : token.slice(0, eq);
    if (!(PARAMS as readonly string[]).includes(name)) continue;
    if (raw.has(name)) refuseSlo('wrong_binding', `${name} appears more than once`);
    raw.set(name, eq === -1 ? '' : token.slice(eq + 1));
  }
  const hasRequest = raw.has('SAMLRequest');
  if (hasRequest === raw.has('SAMLResponse')) refuseSlo('wrong_binding', 'expected exactly one of SAMLRequest and SAMLResponse');
  const param: MessageParam = hasRequest ? 'SAMLRequest' : 'SAMLResponse';
  const messageRaw = raw.get(param)!;
  if (messageRaw.length > Math.ceil(maxBytes * 1.4)) refuseSlo('too_large', `${param} is ${messageRaw.length} bytes`);
  return { raw, param, messageRaw };
}

/** The message parameter's value percent-decoded, base64-decoded and inflated (at most `maxBytes`). */
function inflated(messageRaw: string, param: MessageParam, maxBytes: number): Buffer {
  const base64 = decode(messageRaw, param, true).replace(/[\t\n\r ]/g, '');
  if (base64 === '' || base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) refuseSlo('malformed', `${param} is not base64`);
  let xml: Buffer;
  try {
    xml = inflateRawSync(Buffer.from(base64, 'base64'), { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') refuseSlo('too_large', `inflated ${param} exceeds ${maxBytes} bytes`);
    return refuseSlo('malformed', `${param} does not inflate`);
  }
  return xml;
}

/** A query value, percent-decoded (`+` is a space except in base64 values, where it is itself). */
function decode(value: string, name: string, base64 = false): string {
  try {
    return decodeURIComponent(base64 ? value : value.replace(/\+/g, ' '));
  } catch {
    return refuseSlo('malformed', `${name} is not percent-encoded UTF-8`);
  }
}
