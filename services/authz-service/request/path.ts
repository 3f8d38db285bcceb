/**
 * The path normaliser: turns the raw request-target a front end forwarded (NGINX's `$request_uri`,
 * not decoded) into the one path the rules see — query dropped, percent-decoded once, dot segments
 * resolved, repeated slashes merged — or refuses it when an upstream could read it another way.
 * Pure; the common case (plain characters only) is a single scan and no allocation beyond the slice
 * that drops the query.
 */

export type PathRefusal =
  | 'too_long'
  | 'not_absolute'
  | 'fragment'
  | 'invalid_character'
  | 'control_character'
  | 'backslash'
  | 'path_parameter'
  | 'bad_percent_encoding'
  | 'encoded_slash'
  | 'invalid_utf8'
  | 'double_encoding'
  | 'encoded_dot_segment'
  | 'dot_segment'
  | 'repeated_slash';

/** Per-case relaxations, all off by default. NUL/controls, bad escapes and bad UTF-8 never relax. */
export interface Relaxations {
  /** `%2F` separates segments and `%5C` is a literal `\` (as NGINX routes them). */
  encodedSlash: boolean;
  /** Raw `.`/`..` segments are resolved; `..` above the root is still refused. */
  dotSegments: boolean;
  /** `;` is kept as an ordinary character; a `.;`/`..;` segment is still refused. */
  pathParameters: boolean;
  /** `%25` followed by two hex digits decodes to a literal `%xx`. */
  doubleEncoding: boolean;
  /** A raw `\` is kept as an ordinary character; `\..\` style segments are still refused. */
  backslash: boolean;
  /** `false` refuses `//` instead of merging it (NGINX `merge_slashes off`). */
  mergeSlashes: boolean;
}

export type NormalizedPath = { ok: true; path: string } | { ok: false; reason: PathRefusal };

export const MAX_PATH_LENGTH = 8192;

const STRICT: Relaxations = {
  encodedSlash: false,
  dotSegments: false,
  pathParameters: false,
  doubleEncoding: false,
  backslash: false,
  mergeSlashes: true,
};

const utf8 = new TextDecoder('utf-8', { fatal: true });
const refuse = (reason: PathRefusal): NormalizedPath => ({ ok: false, reason });
const C1_CONTROL = /[\u0080-\u009f]/;
const NON_ASCII = /[^\x00-\x7f]/;
const ESCAPE = /%[0-9A-Fa-f]{2}/;

export function normalizePath(raw: string, relax?: Partial<Relaxations>): NormalizedPath {
  if (raw.length > MAX_PATH_LENGTH) return refuse('too_long');
  if (raw.charCodeAt(0) !== 0x2f /* / */) return refuse('not_absolute');
  let end = raw.length;
  let plain = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x23 /* # */) return refuse('fragment');
    if (c === 0x3f /* ? */ && end === raw.length) end = i;
    if (i >= end) continue;
    if (c < 0x20 || c === 0x7f) return refuse('control_character');
    if (c === 0x25 /* % */ || c === 0x3b /* ; */ || c === 0x5c /* \ */ || c <= 0x20 || c >= 0x80) plain = false;
    else if (c === 0x2f) {
      const next = raw.charCodeAt(i + 1); // a slash followed by `/` or `.` needs the slow path
      if (next === 0x2f || next === 0x2e) plain = false;
    }
  }
  if (plain) return { ok: true, path: end === raw.length ? raw : raw.slice(0, end) };
  return normalizeSlow(raw.slice(0, end), { ...STRICT, ...relax });
}

interface Segment {
  text: string;
  /** some character of it came from a percent-escape */
  escaped: boolean;
}

function normalizeSlow(path: string, relax: Relaxations): NormalizedPath {
  const segments: Segment[] = [];
  const rawSegments = path.slice(1).split('/');
  for (let k = 0; k < rawSegments.length; k++) {
    const rawSeg = rawSegments[k] ?? '';
    if (rawSeg === '' && k < rawSegments.length - 1) {
      if (!relax.mergeSlashes) return refuse('repeated_slash');
      continue; // merged, but a trailing empty segment (a trailing slash) is kept
    }
    const decoded = decodeSegment(rawSeg, relax);
    if (typeof decoded === 'string') return refuse(decoded);
    for (const s of decoded) segments.push(s);
  }
  return resolve(segments, relax);
}

/** Percent-decodes one raw segment; a decoded `%2F` (when relaxed) splits it in parts. */
function decodeSegment(raw: string, relax: Relaxations): Segment[] | PathRefusal {
  const bytes = new Uint8Array(raw.length);
  const parts: Segment[] = [];
  let n = 0;
  let escaped = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c > 0xff || c === 0x20) return 'invalid_character'; // header values are latin1: one char per byte
    if (c === 0x5c && !relax.backslash) return 'backslash';
    if (c === 0x3b && !relax.pathParameters) return 'path_parameter';
    if (c !== 0x25) {
      bytes[n++] = c;
      continue;
    }
    const b = hexByte(raw.charCodeAt(i + 1), raw.charCodeAt(i + 2));
    if (b < 0) return 'bad_percent_encoding';
    i += 2;
    if (b < 0x20 || b === 0x7f) return 'control_character';
    if ((b === 0x2f || b === 0x5c) && !relax.encodedSlash) return 'encoded_slash';
    if (b === 0x3b && !relax.pathParameters) return 'path_parameter';
    if (b === 0x2f) {
      const part = finishPart(bytes.subarray(0, n), escaped);
      if (typeof part === 'string') return part;
      parts.push(part);
      n = 0;
      escaped = true; // the next part starts right after an escape
      continue;
    }
    bytes[n++] = b;
    escaped = true;
  }
  const last = finishPart(bytes.subarray(0, n), escaped);
  if (typeof last === 'string') return last;
  parts.push(last);
  return parts;
}

function finishPart(bytes: Uint8Array, escaped: boolean): Segment | PathRefusal {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return 'invalid_utf8';
  }
  if (C1_CONTROL.test(text)) return 'control_character';
  if (escaped && isDots(text)) return 'encoded_dot_segment';
  if (NON_ASCII.test(text)) {
    // Some upstreams apply compatibility normalisation (NFKC): fullwidth `／` becomes `/`, `．．` `..`.
    const compat = text.normalize('NFKC');
    if (compat.includes('/') || compat.includes('\\')) return 'encoded_slash';
    if (isDots(compat)) return 'encoded_dot_segment';
    if (compat.includes(';')) return 'path_parameter';
    if (ESCAPE.test(compat)) return 'double_encoding';
  }
  return { text, escaped };
}

/** Resolves dot segments and refuses the remaining ambiguities that need whole segments. */
function resolve(segments: Segment[], relax: Relaxations): NormalizedPath {
  const out: string[] = [];
  let trailing = false;
  for (let k = 0; k < segments.length; k++) {
    const { text, escaped } = segments[k] as Segment;
    const isLast = k === segments.length - 1;
    if (escaped && !relax.doubleEncoding && ESCAPE.test(text)) return refuse('double_encoding');
    if (relax.pathParameters && text.includes(';') && isDots(text.slice(0, text.indexOf(';')))) {
      return refuse('path_parameter'); // `..;/` is `../` to Tomcat
    }
    if (text.includes('\\') && text.split('\\').some(isDots)) return refuse('backslash'); // `..\` to IIS
    if (isDots(text)) {
      if (!relax.dotSegments) return refuse('dot_segment');
      if (text === '..' && out.pop() === undefined) return refuse('dot_segment');
      trailing = isLast;
      continue;
    }
    if (text === '' && !isLast) {
      if (!relax.mergeSlashes) return refuse('repeated_slash');
      continue; // an empty part from a decoded `%2F%2F`
    }
    out.push(text);
    trailing = false;
  }
  const joined = `/${out.join('/')}`;
  return { ok: true, path: trailing && out.length > 0 ? `${joined}/` : joined };
}

function isDots(s: string): boolean {
  return s === '.' || s === '..';
}

function hexByte(a: number, b: number): number {
  const hi = hexDigit(a);
  const lo = hexDigit(b);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}
