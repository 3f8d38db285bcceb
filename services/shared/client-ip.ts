/**
 * The client address: forwarded headers count only when the peer is a trusted proxy. Also parses
 * CIDR lists (for `TRUSTED_PROXIES` and for the policy's network conditions). Pure.
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

/**
 * The client address. From a trusted peer: `X-Real-IP` when it is a valid address, else the first
 * untrusted address of `X-Forwarded-For` read from the right (all trusted: the leftmost). An entry that
 * is not an address stops the walk at the last trusted hop. From any other peer: the peer address.
 */
export function clientAddress(
  peerAddress: string,
  headers: Record<string, string | string[] | undefined>,
  trusted: BlockList,
  opts: ForwardedOptions = {},
): string {
  const peer = normalizeIp(peerAddress);
  if (!inList(trusted, peer)) return peer;
  return forwardedClient(peer, headers, trusted, opts.realIp !== false);
}

export interface ForwardedOptions {
  /**
   * Believe `X-Real-IP` from a trusted proxy (default true). Only for proxies that overwrite it (the
   * NGINX configurations do); Envoy and Traefik pass a client's own `X-Real-IP` on, so behind them
   * only `X-Forwarded-For` (read from the right) counts.
   */
  realIp?: boolean;
}

/** From a trusted peer: `X-Real-IP` (when believed), else the right-most untrusted `X-Forwarded-For` hop. */
function forwardedClient(peer: string, headers: Record<string, string | string[] | undefined>, trusted: BlockList, realIpBelieved: boolean): string {
  const realIp = realIpBelieved ? single(headers['x-real-ip'])?.trim() : undefined;
  if (realIp !== undefined) {
    const ip = normalizeIp(realIp);
    if (ipFamily(ip) !== null) return ip;
  }
  const xff = headers['x-forwarded-for'];
  if (xff === undefined) return peer;
  const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',');
  let last = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const ip = normalizeIp((hops[i] ?? '').trim());
    if (ipFamily(ip) === null) return last;
    if (!inList(trusted, ip)) return ip;
    last = ip;
  }
  return last;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}

/**
 * {@link clientAddress} for a server: whether the peer is a trusted proxy is decided once per
 * connection (a keep-alive connection from NGINX carries thousands of requests), and not at all when
 * no proxy is trusted.
 */
export class ClientAddressResolver {
  private readonly peerTrusted = new WeakMap<object, boolean>();
  private readonly anyTrusted: boolean;
  private readonly realIp: boolean;

  constructor(
    private readonly trusted: BlockList,
    opts: ForwardedOptions = {},
  ) {
    this.anyTrusted = trusted.rules.length > 0;
    this.realIp = opts.realIp !== false;
  }

  resolve(socket: { remoteAddress?: string | undefined }, headers: Record<string, string | string[] | undefined>): string {
    const peer = normalizeIp(socket.remoteAddress ?? '');
    if (!this.anyTrusted) return peer;
    let trusted = this.peerTrusted.get(socket);
    if (trusted === undefined) {
      trusted = inList(this.trusted, peer);
      this.peerTrusted.set(socket, trusted);
    }
    return trusted ? forwardedClient(peer, headers, this.trusted, this.realIp) : peer;
  }
}
