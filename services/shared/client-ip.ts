/**
 * The client address: forwarded headers count only when the peer is a trusted proxy.
 */
import type { BlockList } from 'node:net';
import { inList, ipFamily, normalizeIp } from './cidr.js';

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
