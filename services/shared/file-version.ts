import { stat } from 'node:fs/promises';

/**
 * What a polled file's version is known by: inode, size and mtime (a Kubernetes ConfigMap update swaps a
 * symlink, which file watchers miss, and changes all three), or 'missing' when it cannot be stat'ed.
 */
export async function fileVersion(path: string): Promise<string> {
  try {
    const s = await stat(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}
