import './xmldom-compat.js';
import { getVerifiedXml } from '@node-saml/node-saml/lib/xml.js';
import type { Element } from '@xmldom/xmldom';
import type { SamlSettings } from './config.js';
import { decodeSamlResponse } from './decode.js';
import { readRedirect, unverifiedRedirectMessage, type MessageParam } from './redirect-binding.js';
import { asSlo, refuseSlo } from './slo-reasons.js';
import { NS, children, findWeakAlgorithm, isElement, parseXml } from './xml.js';
import { issuerOf } from './identity.js';

export type SloBinding = 'redirect' | 'post';

/** A logout message whose signature verified: every value is read from `root` (signed data only). */
export interface VerifiedLogoutMessage {
  binding: SloBinding;
  kind: 'LogoutRequest' | 'LogoutResponse';
  root: Element;
  relayState?: string;
}

export type SloInput =
  | { binding: 'redirect'; rawQuery: string }
  | { binding: 'post'; SAMLRequest?: string; SAMLResponse?: string; RelayState?: string };

/**
 * Reads a logout message from either binding and verifies its signature against the IdP's configured
 * certificates only (never KeyInfo). HTTP-Redirect: the query signature (redirect-binding.ts), then
 * the inflated document through the same guards as a Response (size, DTD, UTF-8, depth). HTTP-POST:
 * the guards, then node-saml's `getVerifiedXml` (the function the Response validation uses): one
 * enveloped signature on the root, referencing it; the document read from the signed bytes. SHA-1 and
 * MD5 are refused in both. Checks of the content are logout-request.ts's and logout-response.ts's.
 */
export function readLogoutMessage(input: SloInput, cfg: SamlSettings): VerifiedLogoutMessage {
  let param: MessageParam;
  let root: Element;
  let relayState: string | undefined;
  if (input.binding === 'redirect') {
    const message = readRedirect(input.rawQuery, cfg.idpCerts, cfg.maxResponseBytes);
    param = message.param;
    relayState = message.relayState;
    const xml = asSlo(() => decodeSamlResponse(message.xml.toString('base64'), Math.ceil(cfg.maxResponseBytes * 1.4)));
    root = asSlo(() => parseXml(xml, 'logout message')).documentElement as Element;
  } else {
    if ((input.SAMLRequest === undefined) === (input.SAMLResponse === undefined)) refuseSlo('wrong_binding', 'expected exactly one of SAMLRequest and SAMLResponse');
    param = input.SAMLRequest !== undefined ? 'SAMLRequest' : 'SAMLResponse';
    relayState = input.RelayState;
    const xml = asSlo(() => decodeSamlResponse((input.SAMLRequest ?? input.SAMLResponse)!, cfg.maxResponseBytes));
    const doc = asSlo(() => parseXml(xml, 'logout message'));
    const received = doc.documentElement as Element;
    checkRoot(received, param);
    const weak = findWeakAlgorithm(doc);
    if (weak !== null) refuseSlo('weak_algorithm', `algorithm ${weak}`);
    if (children(received, NS.dsig, 'Signature').length === 0) refuseSlo('unsigned', 'the logout message carries no enveloped signature');
    let signed: string | null;
    try {
      signed = getVerifiedXml(xml, received as unknown as Parameters<typeof getVerifiedXml>[1], [...cfg.idpCerts]);
    } catch (err) {
      return refuseSlo('bad_signature', `logout message signature: ${(err as Error).message}`);
    }
    if (signed === null) refuseSlo('bad_signature', 'the signature does not verify with a configured IdP certificate');
    root = asSlo(() => parseXml(signed!, 'signed logout message')).documentElement as Element;
  }
  const kind = checkRoot(root, param);
  return { binding: input.binding, kind, root, ...(relayState === undefined || relayState === '' ? {} : { relayState }) };
}

function checkRoot(root: Element | null, param: MessageParam): 'LogoutRequest' | 'LogoutResponse' {
  const kind = param === 'SAMLRequest' ? 'LogoutRequest' : 'LogoutResponse';
  if (root === null || !isElement(root, NS.protocol, kind)) {
    const other = param === 'SAMLRequest' ? 'LogoutResponse' : 'LogoutRequest';
    if (root !== null && isElement(root, NS.protocol, other)) refuseSlo('wrong_binding', `a ${other} in ${param}`);
    return refuseSlo('malformed', `${param} is not a samlp:${kind}`);
  }
  return kind;
}

/**
 * The Issuer a logout message names, read before any signature is verified (null when it cannot be
 * read): with several IdPs it only chooses whose certificates must verify the message, as the Issuer
 * of an assertion does at the ACS. Nothing read here is trusted; `readLogoutMessage` reads the message
 * again from its verified form, and the verified Issuer must be that IdP's.
 */
export function claimedLogoutIssuer(input: SloInput, maxBytes: number): string | null {
  try {
    let xml: string;
    if (input.binding === 'redirect') {
      const message = unverifiedRedirectMessage(input.rawQuery, maxBytes);
      xml = decodeSamlResponse(message.toString('base64'), Math.ceil(maxBytes * 1.4));
    } else {
      const message = input.SAMLRequest ?? input.SAMLResponse;
      if (message === undefined) return null;
      xml = decodeSamlResponse(message, maxBytes);
    }
    const root = parseXml(xml, 'logout message').documentElement;
    return root === null ? null : issuerOf(root as Element);
  } catch {
    return null;
  }
}
