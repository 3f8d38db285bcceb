import { reject } from './reasons.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** `<!DOCTYPE` / `<!ENTITY`, tolerating any case and whitespace the way a lax parser might. */
const DTD = /<\s*!\s*(doctype|entity)/i;
const XML_DECLARED_ENCODING = /^<\?xml[^>]*\bencoding\s*=\s*["']([^"']*)["']/;

/**
 * Every check that runs before an XML parser sees the document. Returns the XML text.
 *
 * - `too_large`: the input (base64, as received) or the decoded bytes exceed `maxBytes`;
 * - `malformed`: empty, not base64, not UTF-8 (or declaring another encoding), NUL characters;
 * - `dtd_forbidden`: a DOCTYPE or ENTITY declaration, looked for in the bytes read as UTF-8,
 *   UTF-16LE, UTF-16BE and with NUL bytes removed (UTF-32), so that no encoding hides one.
 */
export function decodeSamlResponse(input: string, maxBytes: number): string {
  if (input.length > maxBytes) reject('too_large', `base64 input is ${input.length} bytes, cap ${maxBytes}`);
  const compact = input.replace(/[\t\n\r ]/g, '');
  if (compact === '') reject('malformed', 'empty SAMLResponse');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) reject('malformed', 'SAMLResponse is not base64');
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.length === 0) reject('malformed', 'empty SAMLResponse');
  if (bytes.length > maxBytes) reject('too_large', `decoded XML is ${bytes.length} bytes, cap ${maxBytes}`);

  const readings = [
    bytes.toString('utf8'),
    bytes.toString('utf16le'),
    swap16(bytes).toString('utf16le'),
    bytes.toString('latin1').replace(/\0/g, ''),
  ];
  if (readings.some((text) => DTD.test(text))) reject('dtd_forbidden', 'document contains a DOCTYPE or ENTITY declaration');

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return reject('malformed', 'document is not UTF-8');
  }
  if (text.includes('\0')) reject('malformed', 'document contains NUL characters');
  const declared = XML_DECLARED_ENCODING.exec(text)?.[1];
  if (declared !== undefined && !/^utf-?8$/i.test(declared)) reject('malformed', 'document declares an encoding other than UTF-8');
  if (nestingDepth(text, MAX_DEPTH) > MAX_DEPTH) reject('malformed', `elements nested deeper than ${MAX_DEPTH}`);
  return text;
}

/** A SAML Response nests about a dozen elements; anything far deeper is an attack on the parser. */
export const MAX_DEPTH = 64;

/**
 * How deep elements nest, read from the text before any parser builds a tree (stops counting past
 * `limit`). Comments, CDATA and processing instructions are skipped; quoted attribute values may hold `>`.
 */
export function nestingDepth(xml: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let i = xml.indexOf('<');
  while (i !== -1 && i < xml.length) {
    if (xml.startsWith('<!--', i)) i = xml.indexOf('-->', i + 4);
    else if (xml.startsWith('<![CDATA[', i)) i = xml.indexOf(']]>', i + 9);
    else if (xml.startsWith('<?', i)) i = xml.indexOf('?>', i + 2);
    else if (xml.charCodeAt(i + 1) === 47 /* / */) depth--;
    else if (xml.charCodeAt(i + 1) !== 33 /* ! */) {
      let j = i + 1;
      let quote = 0;
      for (; j < xml.length; j++) {
        const c = xml.charCodeAt(j);
        if (quote !== 0) {
          if (c === quote) quote = 0;
        } else if (c === 34 || c === 39) quote = c;
        else if (c === 62 /* > */) break;
      }
      if (xml.charCodeAt(j - 1) !== 47 /* self-closing */ && ++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
      i = j;
    }
    if (i === -1) break;
    i = xml.indexOf('<', i + 1);
  }
  return max;
}

function swap16(bytes: Buffer): Buffer {
  const even = Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 2)));
  return even.swap16();
}
