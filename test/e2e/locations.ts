/**
 * Reads the locations of a rendered NGINX site configuration, so the suite can prove something about
 * every one of them (each protected location refuses a request without a token; nothing unprotected
 * reaches the application) instead of about a hand-picked list that drifts from the file. A small
 * tokenizer for the subset the shipped configurations use: directives, blocks, quotes, comments.
 */

export interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

export interface Location {
  /** `=`, `^~`, `~`, `~*`, or '' for a plain prefix; `@` for a named location */
  modifier: '' | '=' | '^~' | '~' | '~*' | '@';
  path: string;
  internal: boolean;
  /** the URI auth_request asks, or null when the location is not protected */
  authRequest: string | null;
  proxyPass: string | null;
  directives: Directive[];
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < text.length && text.charAt(i) !== '\n') i++;
    } else if (c === '{' || c === '}' || c === ';') {
      tokens.push(c);
      i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let value = '';
      while (j < text.length && text.charAt(j) !== c) {
        if (text.charAt(j) === '\\') j++;
        value += text.charAt(j);
        j++;
      }
      tokens.push(`\u0000${value}`); // marks a quoted word (may be empty)
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};]/.test(text.charAt(j))) j++;
      tokens.push(text.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

export function parseConfig(text: string): Directive[] {
  const tokens = tokenize(text);
  let pos = 0;
  const word = (t: string) => (t.startsWith('\u0000') ? t.slice(1) : t);
  const parseBlock = (): Directive[] => {
    const out: Directive[] = [];
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t === '}') return out;
      const name = word(t);
      const args: string[] = [];
      for (;;) {
        const a = tokens[pos++];
        if (a === undefined) throw new Error(`unterminated directive ${name}`);
        if (a === ';') {
          out.push({ name, args });
          break;
        }
        if (a === '{') {
          out.push({ name, args, block: parseBlock() });
          break;
        }
        if (a === '}') throw new Error(`unexpected } after ${name}`);
        args.push(word(a));
      }
    }
    return out;
  };
  return parseBlock();
}

/** Every location of every server block. */
export function locations(text: string): Location[] {
  const out: Location[] = [];
  for (const server of parseConfig(text).filter((d) => d.name === 'server')) {
    for (const d of server.block ?? []) {
      if (d.name !== 'location') continue;
      const [first = '', second] = d.args;
      const named = first.startsWith('@');
      const modifier = named ? '@' : second === undefined ? '' : (first as Location['modifier']);
      const path = named ? first : second ?? first;
      const block = d.block ?? [];
      const auth = block.find((x) => x.name === 'auth_request');
      out.push({
        modifier,
        path,
        internal: block.some((x) => x.name === 'internal'),
        authRequest: auth && auth.args[0] !== 'off' ? auth.args[0]! : null,
        proxyPass: block.find((x) => x.name === 'proxy_pass')?.args[0] ?? null,
        directives: block,
      });
    }
  }
  return out;
}

/** A request path that NGINX routes to this location (and to no more specific one in these configs). */
export function probePath(loc: Location): string {
  switch (loc.modifier) {
    case '=':
      return loc.path;
    case '':
    case '^~':
      return `${loc.path}${loc.path.endsWith('/') ? '' : '/'}e2e-probe`;
    default:
      throw new Error(`no probe for location ${loc.modifier} ${loc.path}: give regex locations an explicit probe`);
  }
}

/** `name arg…` of each directive, for readable assertions. */
export const directiveLines = (loc: Location): string[] => loc.directives.map((d) => [d.name, ...d.args].join(' '));
