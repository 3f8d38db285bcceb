/**
 * The baseline servers are TypeScript like everything else; they are compiled to plain JavaScript
 * before a run (esbuild, the compiler tsx itself uses) so that, like the services started from dist/,
 * no loader is measured. Output goes to bench-results/servers/ in this checkout (package imports resolve
 * through its node_modules; several checkouts sharing one node_modules do not overwrite each other's).
 */
import { build } from 'esbuild';
import { join } from 'node:path';

export const SERVERS = ['bare', 'saml-baseline'] as const;
export type ServerName = (typeof SERVERS)[number];

export async function buildServers(root: string): Promise<Record<ServerName, string>> {
  const outdir = join(root, 'bench-results', 'servers');
  await build({
    entryPoints: SERVERS.map((s) => join(root, 'test', 'bench', 'servers', `${s}.ts`)),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node24',
    logLevel: 'error',
  });
  return Object.fromEntries(SERVERS.map((s) => [s, join(outdir, `${s}.mjs`)])) as Record<ServerName, string>;
}
