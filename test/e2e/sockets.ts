/**
 * TCP sockets that involve a loopback port, read from /proc/net/tcp (Linux): how many connections a
 * service has been opened, including those closed lately (TIME_WAIT), without asking the service.
 */
import { readFile } from 'node:fs/promises';

/**
 * `local remote` of every socket whose local or remote port is `port` (any state; an open loopback
 * connection shows both ends, a closed one its TIME_WAIT end), or null without /proc/net/tcp.
 */
export async function socketsOnPort(port: number): Promise<Set<string> | null> {
  let text: string;
  try {
    text = await readFile('/proc/net/tcp', 'utf8');
  } catch {
    return null;
  }
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const out = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    const [, local = '', remote = ''] = line.trim().split(/\s+/);
    if (local.endsWith(hex) || remote.endsWith(hex)) out.add(`${local} ${remote}`);
  }
  return out;
}

/** Connections opened between two snapshots (each new ephemeral port is a new connection). */
export function openedBetween(before: Set<string>, after: Set<string>, port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const clientEnds = (s: Set<string>) => new Set([...s].map((pair) => pair.split(' ').find((end) => !end.endsWith(hex)) ?? pair));
  const old = clientEnds(before);
  return [...clientEnds(after)].filter((end) => !old.has(end)).length;
}
