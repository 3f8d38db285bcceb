import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';
import { reject } from './reasons.js';

export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

/** Strict parse: any error or warning of the parser refuses the document (`malformed`). */
export function parseXml(xml: string, what = 'document'): Document {
  try {
    const parser = new DOMParser({
      onError: (level, message) => {
        throw new Error(`${level}: ${message}`);
      },
    });
    return parser.parseFromString(xml, 'text/xml');
  } catch (err) {
    return reject('malformed', `${what} is not well-formed XML (${(err as Error).message.split('\n')[0]})`);
  }
}

const ELEMENT_NODE = 1;

export function isElement(node: Node | null, ns: string, localName: string): node is Element {
  return node !== null && node.nodeType === ELEMENT_NODE && (node as Element).localName === localName
    && (node as Element).namespaceURI === ns;
}

/** The element children of `parent` with this namespace and local name, in document order. */
export function children(parent: Element, ns: string, localName: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n !== null; n = n.nextSibling) {
    if (isElement(n, ns, localName)) out.push(n);
  }
  return out;
}

/** A certificate's base64 DER as ds:X509Certificate carries it: a PEM (or such text) without its armour and white space. */
export const certBody = (pem: string): string => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');

/** The only such child, `null` when there is none; more than one is `malformed`. */
export function onlyChild(parent: Element, ns: string, localName: string): Element | null {
  const found = children(parent, ns, localName);
  if (found.length > 1) reject('malformed', `more than one ${localName} in ${parent.localName}`);
  return found[0] ?? null;
}

/** Every element below `root` (itself included) whose local name is one of `names`, in any namespace. */
export function descendantsNamed(root: Node, names: readonly string[]): Element[] {
  // Iterative, in document order: no recursion for a parser-built tree to overflow.
  const out: Element[] = [];
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.nodeType === ELEMENT_NODE && names.includes((n as Element).localName ?? '')) out.push(n as Element);
    for (let c = n.lastChild; c !== null; c = c.previousSibling) stack.push(c);
  }
  return out;
}

/** An attribute's value, `null` when absent. */
export function attr(el: Element, name: string): string | null {
  return el.hasAttribute(name) ? el.getAttribute(name) : null;
}

const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** An xs:dateTime attribute (with a time zone, as SAML requires); absent → `null`, unreadable → `malformed`. */
export function instant(el: Element, name: string): Date | null {
  const value = attr(el, name);
  if (value === null) return null;
  const ms = DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) reject('malformed', `${el.localName}@${name} is not a dateTime`);
  return new Date(ms);
}

/** SHA-1/MD5 signature or digest methods, RSA-1.5 key transport and 3DES are refused outright. */
const WEAK_ALGORITHM = /[#-](sha1|md5)$|#rsa-1_5$|#tripledes-cbc$/i;

/**
 * The first weak algorithm named by a signature (SignatureMethod, and the DigestMethod of each
 * Reference) or an encryption (EncryptionMethod) anywhere below `root`; `null` when there is none.
 * The DigestMethod inside an RSA-OAEP EncryptionMethod is the OAEP hash, not a signature digest.
 */
export function findWeakAlgorithm(root: Node): string | null {
  for (const el of descendantsNamed(root, ['SignatureMethod', 'DigestMethod', 'EncryptionMethod'])) {
    const parent = el.parentNode as Element | null;
    const oaepDigest = el.localName === 'DigestMethod' && parent?.localName === 'EncryptionMethod';
    const algorithm = attr(el, 'Algorithm') ?? '';
    if (!oaepDigest && WEAK_ALGORITHM.test(algorithm)) return algorithm;
  }
  return null;
}
