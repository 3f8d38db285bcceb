import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, EnvReader, type Env } from '../env.js';
import { repoRoot } from '../repo-root.js';

const PROTOCOLS = ['postgres:', 'postgresql:'];

/**
 * The development stack's state folder: SAML_AUTHZ_DEV_DIR, else `.dev` at the repository root.
 */
export function devStateDir(env: Env): string {
  if (env.SAML_AUTHZ_DEV_DIR) return env.SAML_AUTHZ_DEV_DIR;
  return join(repoRoot(), '.dev');
}

/** Where a running `npm start` writes the URL of its embedded database (removed when it stops). */
export const devDatabaseUrlFile = (env: Env) => join(devStateDir(env), 'database-url');

/** A URL for a log line: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * The database of an operator command (migrate, revoke): DATABASE_URL (or DATABASE_URL_FILE); when
 * neither is set and NODE_ENV is not production, the one a running `npm start` wrote to
 * .dev/database-url — said on `say` (stderr), so nobody changes a database without knowing which.
 */
export function cliDatabaseUrl(env: Env, say: (line: string) => void): string {
  const r = new EnvReader(env);
  if (env.DATABASE_URL || env.DATABASE_URL_FILE || env.NODE_ENV === 'production') {
    const url = r.url('DATABASE_URL', { required: true, file: true, protocols: PROTOCOLS });
    r.done();
    return url!;
  }
  const file = devDatabaseUrlFile(env);
  let url: string;
  try {
    url = readFileSync(file, 'utf8').trim();
  } catch {
    throw new ConfigError([`DATABASE_URL: required (and no running \`npm start\` found: ${file} does not exist)`]);
  }
  const dev = new EnvReader({ DATABASE_URL: url });
  dev.url('DATABASE_URL', { required: true, protocols: PROTOCOLS });
  if (dev.problems.length > 0) throw new ConfigError([`${file}: not a postgres:// URL`]);
  say(`DATABASE_URL is unset: using the dev database of \`npm start\` (${file}): ${redactUrl(url)}`);
  return url;
}
