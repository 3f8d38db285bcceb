import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Who holds a port: the listening socket's inode from /proc/net/tcp{,6}, then the process with that
 * socket among its file descriptors (visible for our own user's processes, all of them as root).
 */
export function portHolder(port: number): { pid: number; command: string } | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; the inode is the 10th field
      if (f[3] === '0A' && parseInt(f[1]?.split(':')[1] ?? '', 16) === port && f[9]) inodes.add(`socket:[${f[9]}]`);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (!inodes.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) continue;
      } catch {
        continue;
      }
      let command = '';
      try {
        command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      } catch {
        /* gone meanwhile */
      }
      return { pid: Number(entry), command };
    }
  }
  return undefined;
}

/** Resolves when `host:port` can be listened on, rejects with a line that says what holds it. */
export function checkPortFree(host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') return reject(new Error(`cannot listen on ${host}:${port} for the ${what}: ${err.code ?? err.message}`));
      const holder = portHolder(port);
      const by = holder ? `by pid ${holder.pid} (${holder.command.slice(0, 120)})` : 'by another process';
      reject(new Error(`port ${port} (${what}) is already in use ${by}`));
    });
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}
