/**
 * CIDR lists and address families, for `TRUSTED_PROXIES`, the token service's client networks and
 * the policy's network conditions. Pure.
 */
import { BlockList, isIP } from 'node:net';

export type IpFamily = 'ipv4' | 'ipv6';

export interface Cidr {
  address: string;
  prefix: number;
  family: IpFamily;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** `::ffff:1.2.3.4` → `1.2.3.4`; any other address unchanged. */
export function normalizeIp(address: string): string {
  if (address.charCodeAt(0) !== 58 /* : */) return address;
  const m = MAPPED_V4.exec(address);
  return m?.[1] ?? address;
}

/** The family of a valid address (after {@link normalizeIp}), or null. */
export function ipFamily(address: string): IpFamily | null {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : null;
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a single address; returns an error message when invalid. */
export function parseCidr(entry: string): Cidr | string {
  const slash = entry.indexOf('/');
  const address = normalizeIp(slash < 0 ? entry : entry.slice(0, slash));
  const family = ipFamily(address);
  if (family === null) return `"${entry}" is not an IPv4 or IPv6 address or CIDR`;
  const max = family === 'ipv4' ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family };
  const bits = entry.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(bits) || Number(bits) > max) {
    return `"${entry}" has an invalid prefix length (0–${max} for ${family === 'ipv4' ? 'IPv4' : 'IPv6'})`;
  }
  return { address, prefix: Number(bits), family };
}

/** Builds a BlockList; throws an Error naming the first bad entry. */
export function parseCidrList(list: readonly string[]): BlockList {
  const block = new BlockList();
  list.forEach((raw, i) => {
    const cidr = parseCidr(raw.trim());
    if (typeof cidr === 'string') throw new Error(`invalid CIDR list entry ${i + 1}: ${cidr}`);
    block.addSubnet(cidr.address, cidr.prefix, cidr.family);
  });
  return block;
}

/** True when the address is valid and inside the list. */
export function inList(list: BlockList, address: string): boolean {
  const ip = normalizeIp(address);
  const family = ipFamily(ip);
  return family !== null && list.check(ip, family);
}
