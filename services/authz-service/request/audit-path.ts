/**
 * The path an audit event keeps for a refused request-target: without the query (`?…`), the fragment
 * and `;` path parameters, which carry secrets (`?access_token=…`, `X-Amz-Signature=…`,
 * `;jsessionid=…`), and at most 512 characters. Pure; runs on refusals only.
 */
export const AUDIT_PATH_MAX = 512;
/** `;` raw or percent-encoded: a path parameter starts there */
const PARAMETER = /;|%3b/i;

export function auditPath(raw: string): string {
  let end = raw.length;
  const q = raw.indexOf('?');
  if (q >= 0) end = q;
  const hash = raw.indexOf('#');
  if (hash >= 0 && hash < end) end = hash;
  let path = raw.slice(0, end);
  if (PARAMETER.test(path)) {
    path = path
      .split('/')
      .map((seg) => {
        const m = PARAMETER.exec(seg);
        return m === null ? seg : seg.slice(0, m.index);
      })
      .join('/');
  }
  return path.length > AUDIT_PATH_MAX ? path.slice(0, AUDIT_PATH_MAX) : path;
}
