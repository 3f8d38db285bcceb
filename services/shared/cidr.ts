import { BlockList, isIP } from 'node:net';

/**
 * A list of CIDRs or single addresses (IPv4 and IPv6) as a BlockList. Throws naming the bad entry.
 * IPv4 entries also match their IPv4-mapped IPv6 form (::ffff:a.b.c.d), which dual-stack sockets report.
 */
export function parseCidrs(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = '', prefixText, extra] = entry.split('/');
    const family = isIP(addr);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
    if (family === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new Error(`${JSON.stringify(entry)} is not an IP address or CIDR`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

/** Strips the IPv4-mapped IPv6 prefix so one rule form matches both socket forms. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Whether an address (either family, IPv4-mapped normalised) is in the list. */
export function inList(list: BlockList, address: string): boolean {
  const addr = normalizeAddress(address);
  const family = isIP(addr);
  if (family === 0) return false;
  return list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
}
