import './xmldom-compat.js';
import { getVerifiedXml } from '@node-saml/node-saml/lib/xml.js';
import xmlenc from 'xml-encryption';
import type { Document, Element } from '@xmldom/xmldom';
import type { SamlSettings, SpSettings } from './config.js';
import { reject } from './reasons.js';
import { NS, children, descendantsNamed, findWeakAlgorithm, isElement, parseXml } from './xml.js';

/**
 * What the signatures vouch for. Every value a decision rests on is read from `signedResponse` or
 * `assertion`; `unsignedResponse` is what arrived when the Response carries no signature: anyone who
 * holds a signed assertion can rewrite it, so a value read from it may add a refusal, never an acceptance.
 */
export interface VerifiedParts {
  /** The Response from its verified signed bytes; null when the Response is not signed. */
  signedResponse: Element | null;
  /** The Response as received when it is not signed; null when it is signed (then use `signedResponse`). */
  unsignedResponse: Element | null;
  /** The assertion, always from verified signed bytes (its own signature's, or the Response's). */
  assertion: Element;
}

/** The document's samlp:Response root element, or a `malformed` refusal. */
export function responseRoot(doc: Document): Element {
  const root = doc.documentElement;
  if (!isElement(root, NS.protocol, 'Response')) return reject('malformed', 'root element is not samlp:Response');
  return root;
}

/**
 * Structure, algorithms, decryption and the signature policy. Signatures are verified by node-saml's
 * `getVerifiedXml` (the function its `validatePostResponseAsync` uses): exactly one enveloped signature
 * as a direct child, one Reference pointing at that parent, a unique ID, at most two transforms, a key
 * from the configured certificates only (never KeyInfo); it returns the canonical signed bytes. Every
 * signature present must verify, whatever the policy; the policy says which ones must be present.
 */
export async function verifySignatures(xml: string, doc: Document, cfg: SamlSettings, read?: RawAssertion): Promise<VerifiedParts> {
  const root = responseRoot(doc);
  const raw = read ?? (await readRawAssertion(xml, doc, cfg));

  const responseSigned = children(root, NS.dsig, 'Signature').length > 0;
  const assertionSigned = children(raw.assertion, NS.dsig, 'Signature').length > 0;
  const policy = cfg.signaturePolicy;
  if ((policy === 'response' || policy === 'both') && !responseSigned) reject('unsigned', 'the Response is not signed');
  if ((policy === 'assertion' || policy === 'both') && !assertionSigned) reject('unsigned', 'the Assertion is not signed');
  if (!responseSigned && !assertionSigned) reject('unsigned', 'neither the Response nor the Assertion is signed');

  const certs = [...cfg.idpCerts];
  let signedResponse: Element | null = null;
  let assertion: Element | null = null;
  if (responseSigned) {
    signedResponse = parseXml(verified(xml, root, certs, 'Response'), 'signed Response').documentElement as Element;
    if (!assertionSigned) assertion = (await readAssertion(signedResponse, null, cfg)).assertion;
  }
  if (assertionSigned) {
    assertion = parseXml(verified(raw.xml, raw.assertion, certs, 'Assertion'), 'signed Assertion').documentElement;
  }
  if (assertion === null) return reject('unsigned', 'no verified assertion');
  return { signedResponse, unsignedResponse: signedResponse === null ? root : null, assertion };
}

function verified(xml: string, node: Element, certs: string[], what: string): string {
  let signed: string | null;
  try {
    // node-saml's declaration uses the DOM lib's Element; xmldom's is the same at run time.
    signed = getVerifiedXml(xml, node as unknown as Parameters<typeof getVerifiedXml>[1], certs);
  } catch (err) {
    return reject('bad_signature', `${what} signature: ${(err as Error).message}`);
  }
  if (signed === null) reject('bad_signature', `${what} signature does not verify with a configured certificate`);
  return signed;
}

/** The one assertion as received (decrypted if need be): not verified yet. */
export interface RawAssertion {
  assertion: Element;
  /** The XML text the assertion belongs to (the decrypted text for an EncryptedAssertion). */
  xml: string;
}

/**
 * Algorithms, assertion wrapping (exactly one (Encrypted)Assertion anywhere in the document, a child of
 * the Response) and decryption: what can be read before anyone's key is chosen. Nothing read from the
 * result is trusted until `verifySignatures` has verified it.
 */
export async function readRawAssertion(xml: string, doc: Document, sp: SpSettings): Promise<RawAssertion> {
  const root = responseRoot(doc);
  const weak = findWeakAlgorithm(doc);
  if (weak !== null) reject('weak_algorithm', `algorithm ${weak}`);
  const all = descendantsNamed(doc, ['Assertion', 'EncryptedAssertion']);
  if (all.length !== 1) reject('malformed', `${all.length} assertions in the document, expected exactly 1`);
  return readAssertion(root, xml, sp);
}

/**
 * The Response's one Assertion, or its EncryptedAssertion decrypted (then the XML text the assertion
 * belongs to is the decrypted text). `xml` is the text of the document `response` comes from.
 */
async function readAssertion(response: Element, xml: string | null, cfg: SpSettings): Promise<RawAssertion> {
  const plain = children(response, NS.assertion, 'Assertion');
  const encrypted = children(response, NS.assertion, 'EncryptedAssertion');
  const [first] = [...plain, ...encrypted];
  if (plain.length + encrypted.length !== 1 || first === undefined) {
    return reject('malformed', 'the Response does not hold exactly one Assertion');
  }
  if (plain.length === 1) return { assertion: first, xml: xml ?? first.toString() };

  if (cfg.decryptionKey === undefined) return reject('decryption_failed', 'EncryptedAssertion but no decryption key configured');
  const decryptedXml = await decrypt(first, cfg.decryptionKey);
  const decrypted = parseXml(decryptedXml, 'decrypted assertion');
  const assertion = decrypted.documentElement;
  if (!isElement(assertion, NS.assertion, 'Assertion') || descendantsNamed(decrypted, ['Assertion', 'EncryptedAssertion']).length !== 1) {
    return reject('malformed', 'EncryptedAssertion does not hold exactly one Assertion');
  }
  const weak = findWeakAlgorithm(decrypted);
  if (weak !== null) reject('weak_algorithm', `algorithm ${weak} in the decrypted assertion`);
  return { assertion, xml: decryptedXml };
}

/**
 * xml-encryption (6.x): it parses strings with an xmldom call that xmldom 0.9 refuses, so it gets a
 * parsed document. CBC content encryption is accepted (Okta's default); RSA-1.5 and 3DES were refused
 * as weak algorithms before this point.
 */
async function decrypt(encryptedAssertion: Element, key: string): Promise<string> {
  const encDoc = parseXml(encryptedAssertion.toString(), 'EncryptedAssertion');
  const options = { key, disallowDecryptionWithInsecureAlgorithm: false, warnInsecureAlgorithm: false };
  try {
    return await new Promise<string>((resolve, rejectPromise) => {
      const input = encDoc as unknown as string;
      xmlenc.decrypt(input, options, (err, result) => (err ? rejectPromise(err) : resolve(result)));
    });
  } catch (err) {
    return reject('decryption_failed', `EncryptedAssertion: ${(err as Error).message}`);
  }
}
