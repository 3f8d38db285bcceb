/**
 * RelayState and `rd` are honoured only when they name an allowed return URL: same origin as an
 * entry of ALLOWED_RETURN_URLS and a path under its path. Never an open redirect: anything else
 * (relative, scheme-relative, other schemes, credentials in the URL, other hosts) is refused.
 */
export function isAllowedReturnUrl(candidate: string, allowed: readonly URL[]): boolean {
  if (candidate.length > 2048 || !/^https?:\/\//i.test(candidate) || /[\\\s\u0000-\u001f]/.test(candidate)) return false;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  return allowed.some((entry) => {
    if (entry.origin !== url.origin) return false;
    const prefix = entry.pathname.endsWith('/') ? entry.pathname : `${entry.pathname}/`;
    return url.pathname === entry.pathname || url.pathname.startsWith(prefix) || entry.pathname === '/';
  });
}
