import { isIP } from 'node:net';
import { normalizeIp } from '../../shared/cidr.js';

/**
 * The network a client address counts against (rate limits, outstanding logins): an IPv4 address as
 * is, an IPv6 address as its /64 — one subscriber's network, in which every host picks any of 2^64
 * addresses. `::ffff:a.b.c.d` counts as the IPv4 address; a zone id (`%eth0`) is dropped. Pure.
 */
export function clientNetwork(address: string): string {
  const ip = normalizeIp(address);
  const zone = ip.indexOf('%');
  const bare = zone < 0 ? ip : ip.slice(0, zone);
  if (isIP(bare) !== 6) return bare;
  const hextets = expandIpv6(bare);
  return `${hextets.slice(0, 4).map((h) => h.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail converted). */
function expandIpv6(address: string): number[] {
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(piece, 16));
    }
    return out;
  };
  const gap = address.indexOf('::');
  if (gap < 0) return toGroups(address);
  const head = toGroups(address.slice(0, gap));
  const tail = toGroups(address.slice(gap + 2));
  return [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}
