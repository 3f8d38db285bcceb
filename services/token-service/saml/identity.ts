import type { Element } from '@xmldom/xmldom';
import { reject } from './reasons.js';
import { NS, onlyChild } from './xml.js';

/**
 * Identity values (NameID, email, groups) become `sub`, `email` and `groups`, which rules, the revoke
 * command and upstreams compare as exact strings. A value must therefore have one spelling:
 *
 * - leading and trailing XML whitespace (space, tab, CR, LF) is layout, not data: an IdP that
 *   pretty-prints `<NameID>\n  alice@example.com\n</NameID>` means `alice@example.com`. It is trimmed;
 * - the text is put in Unicode NFC, so that `é` precomposed and `e` + combining accent are one name;
 * - characters that make two names look alike or that no identifier carries are refused: control
 *   characters (tab and newlines inside the value included), format characters (zero-width, bidi
 *   controls, BOM), surrogates, and every separator other than the plain space (no-break and
 *   ideographic spaces, line and paragraph separators). An emailAddress NameID, and the email
 *   attribute, hold no space at all.
 *
 * Case is kept as the IdP signed it (a persistent NameID is case-sensitive; an email's local part may
 * be): `revoke --subject` suggests case-insensitive matches when nothing matched exactly.
 */
const XML_SPACE_EDGES = /^[ \t\r\n]+|[ \t\r\n]+$/g;
const NEVER_IN_A_NAME = /(?! )[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Zs}]/u;
const CONTROL = /[\p{Cc}\p{Cs}]/u;
export const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

/** XML whitespace (layout) trimmed at both ends: for entity ids (Issuer, Audience), compared exactly otherwise. */
export function trimXmlSpace(value: string): string {
  return value.replace(XML_SPACE_EDGES, '');
}

/** The entity id an element's one saml:Issuer child names (XML whitespace trimmed); null without one. Two are `malformed` (onlyChild). */
export function issuerOf(el: Element): string | null {
  const issuer = onlyChild(el, NS.assertion, 'Issuer');
  return issuer === null ? null : trimXmlSpace(issuer.textContent ?? '');
}

/** The one spelling of an identifier: XML whitespace trimmed at both ends, NFC. */
export function normalizeIdentifier(value: string): string {
  return trimXmlSpace(value).normalize('NFC');
}

/** The NameID as `sub`: normalised; refused (`missing_subject`, `invalid_name_id`) when unusable. */
export function subjectOf(nameIdText: string, format: string | null): string {
  const subject = normalizeIdentifier(nameIdText);
  if (subject === '') return reject('missing_subject', 'the NameID is empty or only whitespace');
  const bad = NEVER_IN_A_NAME.exec(subject) ?? (format === EMAIL_FORMAT ? / /.exec(subject) : null);
  if (bad !== null) reject('invalid_name_id', `NameID holds ${describe(bad[0])} at position ${bad.index}`);
  return subject;
}

/** The email attribute: normalised, null when empty; refused (`invalid_attribute_value`) with a space or an invisible character. */
export function emailOf(value: string | undefined): string | null {
  if (value === undefined) return null;
  const email = normalizeIdentifier(value);
  if (email === '') return null;
  const bad = NEVER_IN_A_NAME.exec(email) ?? / /.exec(email);
  if (bad !== null) reject('invalid_attribute_value', `email attribute holds ${describe(bad[0])}`);
  return email;
}

/**
 * Group values: each normalised, empty ones dropped, duplicates kept once (in order). Inner spaces
 * and commas are kept ("Domain Users", DNs); a control character refuses the response
 * (`invalid_attribute_value`): dropping that group instead could let its member escape a deny rule.
 */
export function groupsOf(values: readonly string[]): string[] {
  const out = new Set<string>();
  for (const value of values) {
    const group = normalizeIdentifier(value);
    const bad = CONTROL.exec(group);
    if (bad !== null) reject('invalid_attribute_value', `a group value holds ${describe(bad[0])}`);
    if (group !== '') out.add(group);
  }
  return [...out];
}

const describe = (ch: string): string => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
