import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cliDatabaseUrl } from '../../shared/db/cli-database-url.js';
import { connect } from '../../shared/db/connect.js';
import { createAudit } from '../../shared/audit.js';
import { liveSubjectsLike, revokeSubject, revokeToken } from '../store/tokens.js';
import { normalizeIdentifier } from '../saml/identity.js';

const USAGE = `usage: npm run revoke -- --jti <token id> | --subject <NameID> [--reason <text>]
Exit codes: 0 revoked, 1 error, 2 usage, 3 nothing matched (nothing revoked).
The database: DATABASE_URL (or DATABASE_URL_FILE); unset, the one a running \`npm start\` uses.`;

/**
 * `npm run revoke` — revokes one token (`--jti`) or every live token of a user (`--subject`,
 * offboarding). The database notifies every authz-service replica; each enforces it within a second.
 * Exit codes: 0 revoked at least one token; 1 error; 2 usage; 3 nothing matched (nothing revoked).
 */
export const NOTHING_MATCHED = 3;

export async function runRevoke(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, auditStream?: NodeJS.WritableStream): Promise<number> {
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
  const audit = createAudit('token-service', auditStream);
  const reason = values.reason ?? 'revoked by an operator';
  try {
    // Subjects are stored as the ACS normalises NameIDs (XML whitespace trimmed, NFC).
    const subject = values.subject === undefined ? undefined : normalizeIdentifier(values.subject);
    const jtis = values.jti !== undefined ? ((await revokeToken(db.kysely, values.jti, reason)) ? [values.jti] : []) : await revokeSubject(db.kysely, subject!, reason);
    for (const jti of jtis) audit({ event: 'token_revoked', jti, subject: subject ?? null, reason });
    if (jtis.length === 0) {
      out(subject === undefined ? `no live token with id ${JSON.stringify(values.jti)} (unknown, expired or already revoked): nothing revoked` : await noSubjectMatch(db.kysely, subject));
      return NOTHING_MATCHED;
    }
    out(`revoked ${jtis.length} live token${jtis.length === 1 ? '' : 's'}`);
    return 0;
  } finally {
    await db.destroy();
  }
}

/** What to tell the operator when no live token has exactly this subject: the near misses, if any. */
async function noSubjectMatch(db: Parameters<typeof liveSubjectsLike>[0], subject: string): Promise<string> {
  const head = `no live token for subject ${JSON.stringify(subject)}: nothing revoked. Subjects are compared exactly, case included (the NameID as the IdP signed it, without surrounding whitespace).`;
  const near = await liveSubjectsLike(db, subject);
  if (near.length === 0) return `${head} No live token differs from it only by case either.`;
  const list = near.map((n) => `${JSON.stringify(n.subject)} (${n.tokens} live token${n.tokens === 1 ? '' : 's'})`).join(', ');
  return `${head} Differing only by case: ${list}. Run again with --subject set to one of them.`;
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
