import { DOMParser } from '@xmldom/xmldom';

/**
 * xml-crypto 6.3 and xml-encryption (both written for @xmldom/xmldom 0.8) call
 * `new DOMParser().parseFromString(xml)` without a MIME type. The 0.9 line the package overrides to
 * throws a TypeError on that, which made every signature check fail closed (and signing, and
 * decryption, impossible). This shim supplies 'text/xml', the type 0.8 assumed, when none is given;
 * with 0.8 it changes nothing. Imported for its side effect by the modules that use those libraries.
 * Remove it once the override pins a 0.8.x release or those libraries pass the type themselves.
 */
type Parse = (this: DOMParser, source: string, mimeType?: string) => unknown;
const proto = DOMParser.prototype as unknown as { parseFromString: Parse; samlAuthzCompat?: true };
if (proto.samlAuthzCompat !== true) {
  const original = proto.parseFromString;
  proto.parseFromString = function parseFromString(source, mimeType) {
    return original.call(this, source, mimeType ?? 'text/xml');
  };
  proto.samlAuthzCompat = true;
}
