import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cliDatabaseUrl } from '../../shared/db/cli-database-url.js';
import { connect } from '../../shared/db/connect.js';
import { createAudit } from '../../shared/audit.js';
import { revokeSubject, revokeToken } from '../store/tokens.js';

const USAGE = `usage: npm run revoke -- --jti <token id> | --subject <NameID> [--reason <text>]
The database: DATABASE_URL (or DATABASE_URL_FILE); unset, the one a running \`npm start\` uses.`;

/**
 * `npm run revoke` — revokes one token (`--jti`) or every live token of a user (`--subject`,
 * offboarding). The database notifies every authz-service replica; each enforces it within a second.
 */
export async function runRevoke(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  let values: { jti?: string; subject?: string; reason?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { jti: { type: 'string' }, subject: { type: 'string' }, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    out(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if ((values.jti === undefined) === (values.subject === undefined)) {
    out(USAGE);
    return 2;
  }
  const url = cliDatabaseUrl(env, (line) => out(`revoke: ${line}`));
  const db = connect({ url, poolMax: 1 });
  const audit = createAudit('token-service');
  const reason = values.reason ?? 'revoked by an operator';
  try {
    const jtis = values.jti !== undefined ? ((await revokeToken(db.kysely, values.jti, reason)) ? [values.jti] : []) : await revokeSubject(db.kysely, values.subject!, reason);
    for (const jti of jtis) audit({ event: 'token_revoked', jti, subject: values.subject ?? null, reason: 'cli' });
    out(`revoked ${jtis.length} live token${jtis.length === 1 ? '' : 's'}`);
    return 0;
  } finally {
    await db.destroy();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runRevoke(process.argv.slice(2), process.env, (line) => process.stderr.write(`${line}\n`)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`revoke: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
