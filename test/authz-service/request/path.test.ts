import t from 'tap';
import { MAX_PATH_LENGTH, normalizePath, type PathRefusal, type Relaxations } from '../../../services/authz-service/request/path.js';

type Row = [raw: string, expected: string | PathRefusal, relax?: Partial<Relaxations>];
const isPath = (e: string) => e.startsWith('/');

const normal: Row[] = [
  ['/', '/'],
  ['/a', '/a'],
  ['/a/b/c', '/a/b/c'],
  ['/a/', '/a/'],
  ['/a/b?x=1&y=%2F', '/a/b'],
  ['/?', '/'],
  ['/a?b?c', '/a'],
  ['/a?q=..%2F..%00', '/a'],
  ['/docs/index.html', '/docs/index.html'],
  ['/.well-known/jwks.json', '/.well-known/jwks.json'],
  ['/a/.b/c..d/...', '/a/.b/c..d/...'],
  ['/a-b_c~d!$&\'()*+,=:@', '/a-b_c~d!$&\'()*+,=:@'],
  ['/caf%C3%A9', '/café'],
  ['/caf\xc3\xa9', '/café'], // raw UTF-8 bytes as Node hands a latin1 header value
  ['/%E2%82%AC', '/€'],
  ['/a%20b', '/a b'],
  ['/%7euser', '/~user'],
  ['/%41%42', '/AB'],
  ['/100%25', '/100%'],
  ['/%25zz', '/%zz'],
  ['/%3F%23', '/?#'],
  ['/a//b', '/a/b'],
  ['//a///b//', '/a/b/'],
  ['//', '/'],
  ['/a/./b', '/a/b', { dotSegments: true }],
  ['/a/b/../c', '/a/c', { dotSegments: true }],
  ['/a/b/..', '/a/', { dotSegments: true }],
  ['/a/.', '/a/', { dotSegments: true }],
  ['/a/..', '/', { dotSegments: true }],
  ['/a%2Fb', '/a/b', { encodedSlash: true }],
  ['/a/%2F/b', '/a/b', { encodedSlash: true }],
  ['/a%5Cb', '/a\\b', { encodedSlash: true }],
  ['/a;jsessionid=1/b', '/a;jsessionid=1/b', { pathParameters: true }],
  ['/a\\b', '/a\\b', { backslash: true }],
  ['/%2541', '/%41', { doubleEncoding: true }],
];

const hostile: Row[] = [
  // not an origin-form path
  ['', 'not_absolute'],
  ['*', 'not_absolute'],
  ['a/b', 'not_absolute'],
  ['http://evil.example/admin', 'not_absolute'],
  ['%2Fadmin', 'not_absolute'],
  ['\\admin', 'not_absolute'],
  ['/a#frag', 'fragment'],
  ['/a?x#frag', 'fragment'],
  ['/#', 'fragment'],
  [`/${'a'.repeat(MAX_PATH_LENGTH)}`, 'too_long'],
  // encoded separators (IIS, Tomcat with ALLOW_BACKSLASH, Spring)
  ['/admin%2Fsecret', 'encoded_slash'],
  ['/admin%2fsecret', 'encoded_slash'],
  ['/%2F%2Fevil', 'encoded_slash'],
  ['/a%5Cb', 'encoded_slash'],
  ['/a%5c..%5cadmin', 'encoded_slash'],
  ['/%ef%bc%8fadmin', 'encoded_slash'], // fullwidth solidus: NFKC makes it "/"
  ['/a%ef%bc%bcb', 'encoded_slash'], // fullwidth reverse solidus
  // raw backslash (Node's URL, Windows, IIS read it as "/")
  ['/a\\b', 'backslash'],
  ['/a\\..\\admin', 'backslash'],
  ['/a\\..\\admin', 'backslash', { backslash: true }],
  ['/a%5C..%5Cadmin', 'backslash', { encodedSlash: true }],
  // encoded dot segments
  ['/%2e/admin', 'encoded_dot_segment'],
  ['/%2e%2e/admin', 'encoded_dot_segment'],
  ['/%2E%2E/admin', 'encoded_dot_segment'],
  ['/.%2e/admin', 'encoded_dot_segment'],
  ['/%2e./admin', 'encoded_dot_segment'],
  ['/a/%2e%2e', 'encoded_dot_segment'],
  ['/a/%2e', 'encoded_dot_segment'],
  ['/public/%2e%2e/admin', 'encoded_dot_segment', { dotSegments: true }],
  ['/%ef%bc%8e%ef%bc%8e/admin', 'encoded_dot_segment'], // fullwidth full stops
  ['/a%2F..%2Fadmin', 'encoded_dot_segment', { encodedSlash: true }],
  // raw dot segments (NGINX resolves them, an upstream might not)
  ['/.', 'dot_segment'],
  ['/..', 'dot_segment'],
  ['/./admin', 'dot_segment'],
  ['/public/../admin', 'dot_segment'],
  ['/a/.', 'dot_segment'],
  ['/a/..', 'dot_segment'],
  ['/../admin', 'dot_segment', { dotSegments: true }],
  ['/a/../../admin', 'dot_segment', { dotSegments: true }],
  // path parameters (Tomcat `..;/`, Spring matrix variables)
  ['/a;b', 'path_parameter'],
  ['/admin;/', 'path_parameter'],
  ['/public/..;/admin', 'path_parameter'],
  ['/public/..;/admin', 'path_parameter', { pathParameters: true }],
  ['/public/.;/admin', 'path_parameter', { pathParameters: true }],
  ['/public/..;x=1/admin', 'path_parameter', { pathParameters: true }],
  ['/a%3Bb', 'path_parameter'],
  ['/a%3bjsessionid=x', 'path_parameter'],
  ['/%ef%bc%9b', 'path_parameter'], // fullwidth semicolon
  // control characters, raw or encoded, never relaxable
  ['/a%00', 'control_character'],
  ['/a%00.html', 'control_character', { encodedSlash: true, dotSegments: true, pathParameters: true, doubleEncoding: true, backslash: true }],
  ['/a\x00b', 'control_character'],
  ['/a%0a', 'control_character'],
  ['/a%0D%0ASet-Cookie:x', 'control_character'],
  ['/a\tb', 'control_character'],
  ['/a\x7f', 'control_character'],
  ['/a%7F', 'control_character'],
  ['/a%1b', 'control_character'],
  ['/a%c2%85', 'control_character'], // U+0085, a C1 control
  ['/a%c2%9f', 'control_character'],
  // invalid percent-encoding, never relaxable
  ['/a%zz', 'bad_percent_encoding'],
  ['/a%2', 'bad_percent_encoding'],
  ['/a%', 'bad_percent_encoding'],
  ['/a%%32%65', 'bad_percent_encoding'],
  ['/%u002e%u002e/admin', 'bad_percent_encoding'], // IIS %u encoding
  ['/a%g0', 'bad_percent_encoding'],
  ['/a%0', 'bad_percent_encoding'],
  // overlong or invalid UTF-8, never relaxable
  ['/%c0%af', 'invalid_utf8'], // overlong "/"
  ['/%c0%ae%c0%ae/admin', 'invalid_utf8'], // overlong ".."
  ['/%e0%80%af', 'invalid_utf8'],
  ['/%f0%80%80%af', 'invalid_utf8'],
  ['/%C0%80', 'invalid_utf8'], // overlong NUL
  ['/%ed%a0%80', 'invalid_utf8'], // a UTF-16 surrogate
  ['/%e2%82', 'invalid_utf8'], // truncated
  ['/%ff', 'invalid_utf8'],
  ['/%fe%ff', 'invalid_utf8'],
  ['/\xff', 'invalid_utf8'],
  ['/\xc0\xaf', 'invalid_utf8'],
  // double encoding
  ['/%252e%252e/admin', 'double_encoding'],
  ['/%252F', 'double_encoding'],
  ['/%2541', 'double_encoding'],
  ['/%25%32%65', 'double_encoding'],
  ['/%25%32%46', 'double_encoding'],
  ['/%ef%bc%852e', 'double_encoding'], // fullwidth percent sign + "2e"
  // characters no front end should forward raw
  ['/a b', 'invalid_character'],
  ['/\u0100', 'invalid_character'],
  // repeated slashes, when merging is turned off
  ['/a//b', 'repeated_slash', { mergeSlashes: false }],
  ['//a', 'repeated_slash', { mergeSlashes: false }],
  ['/a%2F%2Fb', 'repeated_slash', { mergeSlashes: false, encodedSlash: true }],
];

t.test('normalises ordinary paths', async (t) => {
  for (const [raw, expected, relax] of normal) {
    t.same(normalizePath(raw, relax), { ok: true, path: expected }, `${JSON.stringify(raw)} ${JSON.stringify(relax ?? {})}`);
  }
});

t.test('refuses paths an upstream could read another way', async (t) => {
  t.ok(hostile.length >= 60, `${hostile.length} hostile paths`);
  for (const [raw, expected, relax] of hostile) {
    t.notOk(isPath(expected), 'a hostile row expects a reason');
    t.same(normalizePath(raw, relax), { ok: false, reason: expected }, `${JSON.stringify(raw)} ${JSON.stringify(relax ?? {})}`);
  }
});

t.test('the common case returns the input itself or a slice of it', async (t) => {
  const raw = '/api/v1/items/42';
  const r = normalizePath(raw);
  t.same(r, { ok: true, path: raw });
});

t.test('a normalised ASCII path, re-encoded, normalises to itself', async (t) => {
  for (const [raw, expected, relax] of normal) {
    if (!/^[\x21-\x7e ]*$/.test(expected) || /[?#\\]/.test(expected)) continue; // decoded data, not syntax
    const again = normalizePath(expected.replaceAll('%', '%25').replaceAll(' ', '%20'), relax);
    t.same(again, { ok: true, path: expected }, `${JSON.stringify(raw)} → ${expected}`);
  }
});
