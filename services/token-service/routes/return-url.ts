/**
 * RelayState and `rd` are honoured only when they name an allowed return URL: same origin as an entry
 * of ALLOWED_RETURN_URLS and a path at or below its path, on a segment boundary. Never an open
 * redirect: anything else (relative, scheme-relative, other schemes, credentials in the URL, other hosts)
 * is refused. Pure.
 *
 * The path is compared as an application reads it: percent-decoded once, dot segments resolved. A path
 * that could be read another way downstream is refused outright: an encoded `/` or `\`, an encoded `%`
 * (double encoding), a control character once decoded, a dot segment with `;` parameters (`..;`), or
 * bytes that are not UTF-8. The URL given back is the WHATWG serialisation (`href`): ASCII only
 * (punycode host, percent-encoded path, query and fragment), safe for a `Location` header and for the
 * IdP's RelayState.
 */
export function allowedReturnUrl(candidate: string, allowed: readonly URL[]): string | undefined {
  // Raw controls, whitespace and backslashes: browsers strip or rewrite them, so the URL would not be
  // the one checked.
  if (candidate.length > 2048 || !/^https?:\/\//i.test(candidate) || /[\\\s\u0000-\u001f\u007f-\u009f]/.test(candidate)) return undefined;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  if (url.username || url.password) return undefined;
  const path = decodedPath(url.pathname);
  if (path === undefined) return undefined;
  const href = url.href;
  if (href.length > 2048 || !/^[\x21-\x7e]+$/.test(href)) return undefined;
  const ok = allowed.some((entry) => {
    if (entry.origin !== url.origin) return false;
    const base = decodedPath(entry.pathname) ?? entry.pathname;
    const root = base.endsWith('/') ? base.slice(0, -1) : base;
    return root === '' || path === root || path.startsWith(`${root}/`);
  });
  return ok ? href : undefined;
}

/** Kept for callers that only ask yes or no. */
export function isAllowedReturnUrl(candidate: string, allowed: readonly URL[]): boolean {
  return allowedReturnUrl(candidate, allowed) !== undefined;
}

/** The WHATWG-normalised path percent-decoded once, or undefined when it could be read another way. */
function decodedPath(pathname: string): string | undefined {
  if (/%(?:2f|5c|25)/i.test(pathname)) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined; // not UTF-8
  }
  if (/[\u0000-\u001f\u007f-\u009f\\]/.test(path)) return undefined;
  // WHATWG resolves `.`/`..` and their %2e forms; a segment that is still a dot segment once decoded
  // (or once `;params` are stripped, as Java servlet containers do) is read differently downstream.
  if (path.split('/').some((seg) => /^\.{1,2}(?:;.*)?$/.test(seg))) return undefined;
  return path;
}
