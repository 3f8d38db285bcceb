import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository (or image) root, found from this file whether it runs from source (services/shared)
 * or compiled (dist/services/shared): where package.json, migrations/ and the dev state folder live.
 */
export function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const fromDist = here.includes(join('dist', 'services'));
  return join(here, fromDist ? '../../..' : '../..');
}
