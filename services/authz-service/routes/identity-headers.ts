const PLAIN = /^[\x21-\x2b\x2d-\x7e]*$/; // visible ASCII except ',' — the common case, kept as is

/**
 * A value safe for one header field and unambiguous in a comma-separated list: anything outside
 * visible ASCII, a comma or a percent sign is percent-encoded (UTF-8), so a group named "a,b" never
 * reads as two groups and no value can inject a header line.
 */
export function headerSafe(value: string): string {
  if (PLAIN.test(value) && !value.includes('%')) return value;
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The `X-Auth-Request-Groups` value of a group list, remembered per list: the verifier shares one array
 * between the tokens that carry the same groups (shared/jwt-verify.ts), so a steady state joins nothing.
 */
const joinedGroups = new WeakMap<readonly string[], string>();

function groupsHeader(groups: readonly string[]): string {
  let joined = joinedGroups.get(groups);
  if (joined === undefined) {
    joined = '';
    for (let i = 0; i < groups.length; i++) joined += (i === 0 ? '' : ',') + headerSafe(groups[i]!);
    joinedGroups.set(groups, joined);
  }
  return joined;
}

/**
 * X-Auth-Request-User/-Email/-Groups for NGINX's `auth_request_set` / ingress `auth-response-headers`,
 * pushed onto an answer's header list (name, value, …).
 */
export function identityHeaders(out: string[], subject: string, email: string | null, groups: readonly string[]): void {
  out.push('x-auth-request-user', headerSafe(subject));
  if (email) out.push('x-auth-request-email', headerSafe(email));
  const joined = groupsHeader(groups);
  if (joined) out.push('x-auth-request-groups', joined);
}
