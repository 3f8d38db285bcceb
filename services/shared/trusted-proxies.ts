import { BlockList } from 'node:net';
import { parseCidr, parseCidrList } from './cidr.js';
import type { EnvReader } from './env.js';

/** TRUSTED_PROXIES entries with a shorter prefix are refused unless TRUSTED_PROXIES_ALLOW_WIDE=true. */
export const MIN_TRUSTED_PREFIX = 8;

export interface TrustedProxies {
  /** peers whose forwarded client-address headers are believed */
  trustedProxies: BlockList;
  /** entries wider than /8 that TRUSTED_PROXIES_ALLOW_WIDE=true let through (logged as a warning at start) */
  trustedProxiesWide: string[];
}

/**
 * TRUSTED_PROXIES for either service. A range this wide trusts forwarded headers from (almost) any
 * peer, so every client would choose its own address (for sourceIps rules, ALLOWED_CIDRS and the rate
 * limit): refused, naming the variable, unless TRUSTED_PROXIES_ALLOW_WIDE=true.
 */
export function readTrustedProxies(r: EnvReader): TrustedProxies {
  const list = r.list('TRUSTED_PROXIES');
  let trustedProxies = new BlockList();
  try {
    trustedProxies = parseCidrList(list);
  } catch (err) {
    r.fail('TRUSTED_PROXIES', (err as Error).message);
  }
  const wide = list.filter((entry) => {
    const c = parseCidr(entry.trim());
    return typeof c !== 'string' && c.prefix < MIN_TRUSTED_PREFIX;
  });
  if (wide.length > 0 && !r.bool('TRUSTED_PROXIES_ALLOW_WIDE', false)) {
    r.fail('TRUSTED_PROXIES', `${wide.join(', ')} is wider than /${MIN_TRUSTED_PREFIX}: forwarded client addresses would be believed from almost any peer, so every client could choose its own address. List the proxies' own addresses (or set TRUSTED_PROXIES_ALLOW_WIDE=true)`);
  }
  return { trustedProxies, trustedProxiesWide: wide };
}
