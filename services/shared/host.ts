/**
 * Host syntax, shared by the request layer (the host a front end forwards) and the policy layer (host
 * patterns in rules). Pure.
 */
import { isIPv6 } from 'node:net';

const DNS_NAME = /^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*$/;
const PORT = /^[0-9]{1,5}$/;
const DIGITS = /^[0-9]+$/;

/**
 * A host is a DNS name, an IPv4 address or a bracketed IPv6 literal, with an optional `:port`
 * (1–65535). Returns it lower-cased (port without leading zeros), or null when it is not one.
 */
export function parseHost(value: string): string | null {
  let name = value;
  let port: string | undefined;
  const close = value.lastIndexOf(']');
  const colon = value.lastIndexOf(':');
  if (colon > close) {
    name = value.slice(0, colon);
    port = value.slice(colon + 1);
    if (!PORT.test(port) || Number(port) < 1 || Number(port) > 65535) return null;
    port = String(Number(port));
  }
  if (name.startsWith('[')) {
    if (!name.endsWith(']') || !isIPv6Literal(name.slice(1, -1))) return null;
  } else {
    if (name.length > 253 || !DNS_NAME.test(name)) return null;
    const last = name.slice(name.lastIndexOf('.') + 1);
    if (DIGITS.test(last) && !isIPv4(name)) return null; // `1.2.3.999` is neither
  }
  const lower = name.toLowerCase();
  return port === undefined ? lower : `${lower}:${port}`;
}

function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

function isIPv6Literal(s: string): boolean {
  return /^[0-9A-Fa-f:.]+$/.test(s) && isIPv6(s); // no zone id (`%25eth0`)
}
