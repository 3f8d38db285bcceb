import { isIP, type BlockList } from 'node:net';
import { inList, normalizeAddress } from './cidr.js';

/**
 * The client's address. Forwarded headers count only when the immediate peer is a trusted proxy:
 * then `X-Real-IP` when it is an address, else the right-most `X-Forwarded-For` entry that is not itself
 * a trusted proxy. From anyone else, the peer address (a client can send any header).
 */
export function clientAddress(peer: string, headers: Record<string, string | string[] | undefined>, trusted: BlockList): string {
  const direct = normalizeAddress(peer);
  if (!inList(trusted, direct)) return direct;
  const realIp = headers['x-real-ip'];
  if (typeof realIp === 'string') {
    const candidate = normalizeAddress(realIp.trim());
    if (isIP(candidate) !== 0) return candidate;
  }
  const xff = headers['x-forwarded-for'];
  const chain = Array.isArray(xff) ? xff.join(',') : xff;
  if (!chain) return direct;
  const hops = chain.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress((hops[i] ?? '').trim());
    if (isIP(hop) === 0) return direct; // an unreadable hop: trust nothing to its left
    if (!inList(trusted, hop)) return hop;
  }
  return direct;
}
