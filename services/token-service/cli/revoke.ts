import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cliDatabaseUrl } from '../../shared/db/cli-database-url.js';
import { connect } from '../../shared/db/connect.js';
import { createAudit } from '../../shared/audit.js';
import { liveSubjectsLike, revokeEveryLive, revokeSubject, revokeToken } from '../store/tokens.js';
import { endEverySession, endSessionWithTokens, endSessionsOfSubject } from '../store/sessions.js';
import { normalizeIdentifier } from '../saml/identity.js';

const USAGE = `usage: npm run revoke -- --jti <token id> | --session <sid> | --subject <NameID> | --idp <entity id> [--reason <text>]
  --jti      one token
  --session  one session (the token claim \`sid\`): it ends, every token of it is revoked, it is never renewed
  --subject  offboarding: every live session and token of the user, at every IdP
  --idp      every live session and token of everyone signed in at that IdP (the token claim \`idp\`);
             remove the IdP from SAML_IDPS_FILE first, or its users can sign in again
Exit codes: 0 revoked, 1 error, 2 usage, 3 nothing matched (nothing revoked).
The database: DATABASE_URL (or DATABASE_URL_FILE); unset, the one a running \`npm start\` uses.`;

/**
 * `npm run revoke` — revokes one token (`--jti`) or every live token of a user (`--subject`,
 * offboarding). The database notifies every authz-service replica; each enforces it within a second.
 * Exit codes: 0 revoked at least one token; 1 error; 2 usage; 3 nothing matched (nothing revoked).
 */
export const NOTHING_MATCHED = 3;

export async function runRevoke(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, auditStream?: NodeJS.WritableStream): Promise<number> {
  let values: { jti?: string; session?: string; subject?: string; idp?: string; reason?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { jti: { type: 'string' }, session: { type: 'string' }, subject: { type: 'string' }, idp: { type: 'string' }, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    out(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if ([values.jti, values.session, values.subject, values.idp].filter((v) => v !== undefined).length !== 1) {
    out(USAGE);
    return 2;
  }
  const url = cliDatabaseUrl(env, (line) => out(`revoke: ${line}`));
  const db = connect({ url, poolMax: 1 });
  const audit = createAudit('token-service', auditStream);
  const reason = values.reason ?? 'revoked by an operator';
  try {
    if (values.session !== undefined) {
      const sid = values.session;
      const { ended, jtis } = await endSessionWithTokens(db.kysely, sid, 'revoked', reason);
      if (!ended) {
        out(`no live session with id ${JSON.stringify(sid)} (unknown, or already ended): nothing revoked`);
        return NOTHING_MATCHED;
      }
      audit({ event: 'session_ended', sid, reason: 'revoked' });
      for (const jti of jtis) audit({ event: 'token_revoked', jti, sid, reason });
      out(`ended session ${sid}; revoked ${jtis.length} live token${jtis.length === 1 ? '' : 's'}`);
      return 0;
    }
    if (values.idp !== undefined) {
      const idpIssuer = values.idp;
      const { jtis, sids } = await db.kysely.transaction().execute(async (trx) => ({
        jtis: await revokeEveryLive(trx, { idpIssuer }, reason),
        sids: await endEverySession(trx, { idpIssuer }, 'revoked', reason),
      }));
      for (const sid of sids) audit({ event: 'session_ended', sid, idp: idpIssuer, reason: 'revoked' });
      for (const jti of jtis) audit({ event: 'token_revoked', jti, idp: idpIssuer, reason });
      if (sids.length + jtis.length === 0) {
        out(`no live session or token of IdP ${JSON.stringify(idpIssuer)} (entity ids are compared exactly): nothing revoked`);
        return NOTHING_MATCHED;
      }
      out(`ended ${sids.length} session${sids.length === 1 ? '' : 's'}; revoked ${jtis.length} live token${jtis.length === 1 ? '' : 's'} of IdP ${idpIssuer}`);
      return 0;
    }
    // Subjects are stored as the ACS normalises NameIDs (XML whitespace trimmed, NFC).
    const subject = values.subject === undefined ? undefined : normalizeIdentifier(values.subject);
    let sids: string[] = [];
    let jtis: string[];
    if (values.jti !== undefined) {
      jtis = (await revokeToken(db.kysely, values.jti, reason)) ? [values.jti] : [];
    } else {
      // Every live token of the subject (with the operator's reason), then its sessions: none renews again.
      ({ jtis, sids } = await db.kysely.transaction().execute(async (trx) => ({
        jtis: await revokeSubject(trx, subject!, reason),
        sids: await endSessionsOfSubject(trx, subject!, 'revoked', reason),
      })));
    }
    for (const sid of sids) audit({ event: 'session_ended', sid, subject: subject ?? null, reason: 'revoked' });
    for (const jti of jtis) audit({ event: 'token_revoked', jti, subject: subject ?? null, reason });
    if (sids.length > 0) {
      out(`ended ${sids.length} session${sids.length === 1 ? '' : 's'}; revoked ${jtis.length} live token${jtis.length === 1 ? '' : 's'}`);
      return 0;
    }
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
