/**
 * An IdP's SAML metadata: fetched over https (no redirects, a timeout, a size cap) and read for its
 * signing certificates and its HTTP-Redirect SSO and SLO endpoints. The metadata's own signature is
 * not verified: https to the configured URL is what vouches for it (a residual risk, see
 * docs/identity-providers.md).
 */
import { X509Certificate } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { MAX_DEPTH, nestingDepth } from '../saml/decode.js';
import { SamlRejection } from '../saml/reasons.js';
import { NS, attr, children, descendantsNamed, instant, parseXml } from '../saml/xml.js';

export const MD_NS = 'urn:oasis:names:tc:SAML:2.0:metadata';
export const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
/** Metadata of one IdP is a few kB; an aggregate (EntitiesDescriptor) of a federation can be far larger. */
export const METADATA_MAX_BYTES = 1024 * 1024;

export interface IdpMetadata {
  /** PEM certificates of its signing keys (KeyDescriptor use="signing" or without `use`), deduplicated. */
  certs: string[];
  ssoUrl?: string;
  sloUrl?: string;
  /** The earliest validUntil of the entity and its enclosing aggregates: the copy must not be used after it. */
  validUntil?: Date;
}

const DTD = /<\s*!\s*(doctype|entity)/i;

/** Reads one IdP's metadata; throws an Error with a one-line message naming what is wrong. */
export function parseIdpMetadata(xml: string, entityId: string, now: Date = new Date()): IdpMetadata {
  if (Buffer.byteLength(xml, 'utf8') > METADATA_MAX_BYTES) fail(`larger than ${METADATA_MAX_BYTES} bytes`);
  if (DTD.test(xml)) fail('contains a DOCTYPE or ENTITY declaration');
  if (xml.includes('\0')) fail('contains NUL characters');
  if (nestingDepth(xml, MAX_DEPTH) > MAX_DEPTH) fail(`elements nested deeper than ${MAX_DEPTH}`);
  const root = saml(() => parseXml(xml, 'metadata').documentElement);
  if (root === null || root.namespaceURI !== MD_NS || (root.localName !== 'EntityDescriptor' && root.localName !== 'EntitiesDescriptor')) {
    fail('not an md:EntityDescriptor or md:EntitiesDescriptor');
  }
  const entity = findEntity(root, entityId);
  let validUntil: Date | undefined;
  for (let el: Element | null = entity; el !== null && el.nodeType === 1; el = el.parentNode as Element | null) {
    const until = saml(() => instant(el!, 'validUntil'));
    if (until !== null && until.getTime() <= now.getTime()) fail(`${el.localName} validUntil ${until.toISOString()} has passed`);
    if (until !== null && (validUntil === undefined || until < validUntil)) validUntil = until;
  }

  const idps = children(entity, MD_NS, 'IDPSSODescriptor')
    .filter((d) => (attr(d, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(NS.protocol));
  if (idps.length === 0) fail(`EntityDescriptor "${entityId}" has no IDPSSODescriptor for SAML 2.0`);
  if (idps.length > 1) fail(`EntityDescriptor "${entityId}" has more than one SAML 2.0 IDPSSODescriptor`);
  const idp = idps[0]!;

  const certs: string[] = [];
  for (const kd of children(idp, MD_NS, 'KeyDescriptor')) {
    const use = attr(kd, 'use');
    if (use !== null && use !== 'signing') continue;
    for (const c of descendantsNamed(kd, ['X509Certificate']).filter((e) => e.namespaceURI === NS.dsig)) {
      const pem = toPem(c.textContent ?? '');
      if (!certs.includes(pem)) certs.push(pem);
    }
  }
  if (certs.length === 0) fail('no signing certificate (KeyDescriptor use="signing" or without use, with an X509Certificate)');
  const out: IdpMetadata = { certs, ...(validUntil === undefined ? {} : { validUntil }) };
  const sso = redirectLocation(idp, 'SingleSignOnService');
  const slo = redirectLocation(idp, 'SingleLogoutService');
  if (sso !== undefined) out.ssoUrl = sso;
  if (slo !== undefined) out.sloUrl = slo;
  return out;
}

/** The EntityDescriptor whose entityID is the configured one: the root, or exactly one inside an aggregate. */
function findEntity(root: Element, entityId: string): Element {
  if (root.localName === 'EntityDescriptor') {
    const found = attr(root, 'entityID');
    if (found !== entityId) fail(`entityID is ${JSON.stringify(found)}, not the configured ${JSON.stringify(entityId)}`);
    return root;
  }
  const matches = descendantsNamed(root, ['EntityDescriptor'])
    .filter((e) => e.namespaceURI === MD_NS && attr(e, 'entityID') === entityId);
  if (matches.length === 0) fail(`no EntityDescriptor with entityID ${JSON.stringify(entityId)} in the EntitiesDescriptor`);
  if (matches.length > 1) fail(`more than one EntityDescriptor with entityID ${JSON.stringify(entityId)}`);
  return matches[0]!;
}

function redirectLocation(idp: Element, service: string): string | undefined {
  const el = children(idp, MD_NS, service).find((s) => attr(s, 'Binding') === REDIRECT_BINDING);
  const location = el ? attr(el, 'Location') : null;
  if (el === undefined) return undefined;
  if (location === null || !URL.canParse(location) || !/^https?:$/.test(new URL(location).protocol)) {
    fail(`${service} (HTTP-Redirect) Location is not an absolute http(s) URL`);
  }
  return location;
}

/** base64 DER (any white space) → PEM, checked to be an X.509 certificate. */
function toPem(text: string): string {
  const b64 = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) fail('an X509Certificate is not base64');
  const pem = `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  try {
    new X509Certificate(pem);
  } catch {
    fail('an X509Certificate does not parse as an X.509 certificate');
  }
  return pem;
}

function saml<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof SamlRejection) fail(err.detail);
    throw err;
  }
}

function fail(message: string): never {
  throw new Error(`IdP metadata: ${message.replace(/\s+/g, ' ')}`);
}

export interface FetchOptions {
  timeoutMs: number;
  maxBytes?: number;
  /** Aborts the fetch early (the directory closing). */
  signal?: AbortSignal;
}

/**
 * GETs the metadata document: a redirect is refused (the configured URL is the trust anchor), so is
 * any status but 200, a body over `maxBytes` (counted while reading), and anything slower than
 * `timeoutMs` in all (connect, headers and body). Throws an Error with a one-line message.
 */
export async function fetchIdpMetadata(url: string, opts: FetchOptions): Promise<string> {
  const maxBytes = opts.maxBytes ?? METADATA_MAX_BYTES;
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    const res = await fetch(url, {
      redirect: 'manual',
      signal,
      headers: { accept: 'application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8' },
    });
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      fail(`${url} answered a redirect (${res.status}); redirects are refused, configure the final URL`);
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      fail(`${url} answered ${res.status}`);
    }
    const length = Number(res.headers.get('content-length') ?? Number.NaN);
    if (length > maxBytes) {
      await res.body?.cancel();
      fail(`${url} is larger than ${maxBytes} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body !== null) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBytes) {
          await reader.cancel();
          fail(`${url} is larger than ${maxBytes} bytes`);
        }
        chunks.push(value);
      }
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    } catch {
      return fail(`${url} is not UTF-8`);
    }
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('IdP metadata: ')) throw err;
    if (timeout.aborted) fail(`${url} did not answer within ${opts.timeoutMs} ms`);
    if (signal.aborted) fail(`${url}: fetch aborted`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    fail(`${url} could not be fetched (${cause?.code ?? cause?.message ?? (err as Error).message})`);
  }
}
