// readCookies and presentedToken (shared/cookies.ts): the request path reads them on every request.
import t from 'tap';
import fc from 'fast-check';
import { presentedToken, readCookies } from '../../services/shared/cookies.js';

/** The plain reading (every cookie's name sliced and trimmed): what readCookies must answer, faster. */
function reference(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (!header) return values;
  for (let from = 0; from <= header.length; ) {
    let end = header.indexOf(';', from);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', from);
    if (eq !== -1 && eq < end && header.slice(from, eq).trim() === name) values.push(header.slice(eq + 1, end).trim());
    from = end + 1;
  }
  return values;
}

const NAME = '__Host-saml_authz';

t.test('readCookies answers what reading every cookie answers, for any header', async (t) => {
  // Headers built from pieces that matter: the name (whole, cut, padded), separators, whitespace, values.
  const piece = fc.constantFrom(NAME, '__Host-saml', 'saml_authz', `x${NAME}`, `${NAME}x`, '=', ';', ' ', '\t', '\u00a0', 'a', 'tok.en', '==', '; ', '');
  const header = fc.array(piece, { maxLength: 40 }).map((p) => p.join(''));
  fc.assert(
    fc.property(fc.option(header, { nil: undefined }), fc.constantFrom(NAME, 'a', 'saml_authz'), (h, name) => {
      t.same(readCookies(h, name), reference(h, name));
    }),
    { numRuns: 3000 },
  );
  t.same(readCookies(`a=1; ${NAME}=one; b=2; ${NAME} = two ;c=${NAME}`, NAME), ['one', 'two'], 'both of a repeated cookie, a value naming it is not it');
  t.same(readCookies(`${NAME}x=1; x${NAME}=2`, NAME), [], 'a longer name is another cookie');
});

t.test('presentedToken: a bearer token in any letter case, else the cookie', async (t) => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) t.same(presentedToken(`${scheme} abc`, undefined, NAME), { kind: 'token', token: 'abc', via: 'bearer' }, scheme);
  t.same(presentedToken('Basic abc', `${NAME}=c`, NAME), { kind: 'token', token: 'c', via: 'cookie' }, 'another scheme: the cookie');
  t.same(presentedToken('Bearer ', undefined, NAME), { kind: 'none' }, 'a scheme without a token: none');
});
