import { execFileSync } from 'node:child_process';

/** Path of a binary on PATH (or in the usual sbin folders), or undefined. */
export function findBinary(name: string): string | undefined {
  for (const candidate of [name, `/usr/sbin/${name}`, `/usr/bin/${name}`]) {
    try {
      return execFileSync('sh', ['-c', `command -v ${candidate}`], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * Suites that need a system binary (nginx, prometheus): outside CI they skip loudly when it is missing;
 * in CI (`CI=true`, where npm test's preflight installs it) a missing binary fails the run.
 */
export function requireBinary(t: { fail(msg: string): void; plan(n: number, why?: string): void }, name: string, pkg: string): string | undefined {
  const path = findBinary(name);
  if (path) return path;
  const msg = `*** ${name} NOT FOUND: install the Debian package \`${pkg}\` (apt-get install -y ${pkg}); this suite did not run ***`;
  process.stderr.write(`\n${msg}\n\n`);
  if (process.env.CI) t.fail(msg);
  else t.plan(0, msg);
  return undefined;
}
