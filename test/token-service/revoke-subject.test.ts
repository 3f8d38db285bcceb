import t from 'tap';
import { decodeJwt } from 'jose';
import { withDb } from '../helpers/db.js';
import { LogCapture } from '../helpers/app.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';
import { mintLive, newSigningKey } from '../helpers/tokens.js';
import { NOTHING_MATCHED, runRevoke } from '../../services/token-service/cli/revoke.js';

// Issue 12 item 10: a pretty-printed NameID used to keep its whitespace in `sub`, so that
// `revoke --subject alice@example.com` (and `subjects` rules) missed the user.
const PRETTY = (x: string): string => x.replace(/(<saml:NameID[^>]*>)alice@example\.com</, '$1\n        alice@example.com\n      <');

t.test('a pretty-printed NameID signs in as the trimmed subject, and revoke --subject finds it, audited with its --reason', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const { samlResponse } = await svc.sign({ mutateAssertion: PRETTY });
  t.match(Buffer.from(samlResponse, 'base64').toString(), /<saml:NameID[^>]*>\n {8}alice@example\.com\n {6}</, 'the signed document really is pretty-printed');
  const res = await postAcs(svc.app, samlResponse);
  t.equal(res.statusCode, 200);
  const { sub, jti } = decodeJwt((res.json() as { access_token: string }).access_token);
  t.equal(sub, 'alice@example.com');
  t.same(await db.kysely.selectFrom('issued_tokens').select('subject').execute(), [{ subject: 'alice@example.com' }]);

  const out: string[] = [];
  const audit = new LogCapture();
  t.equal(await runRevoke(['--subject', 'alice@example.com', '--reason', 'offboarded: ticket 4711'], { DATABASE_URL: db.url }, (l) => out.push(l), audit), 0);
  t.same(out, ['ended 1 session; revoked 1 live token'], 'the sign-in\'s session ends with its token');
  t.match(audit.lines, [
    { log: 'audit', event: 'session_ended', subject: 'alice@example.com', reason: 'revoked' },
    { log: 'audit', event: 'token_revoked', jti, subject: 'alice@example.com', reason: 'offboarded: ticket 4711' },
  ]);
  t.equal(audit.lines.length, 2);
  const row = await db.kysely.selectFrom('issued_tokens').select(['revoked_at', 'revoked_reason']).executeTakeFirstOrThrow();
  t.ok(row.revoked_at);
  t.equal(row.revoked_reason, 'offboarded: ticket 4711');
});

t.test('revoke says when nothing matched, suggests case-insensitive matches, and exits non-zero', async (t) => {
  const db = await withDb(t);
  const key = newSigningKey();
  await mintLive(db.kysely, key, { subject: 'alice@example.com' });
  await mintLive(db.kysely, key, { subject: 'alice@example.com' });
  await mintLive(db.kysely, key, { subject: 'ALICE@example.com' });
  const bob = await mintLive(db.kysely, key, { subject: 'bob@example.com' });
  await db.kysely.updateTable('issued_tokens').set({ revoked_at: new Date() }).where('jti', '=', bob.jti).execute();
  const live = async () => Number((await db.kysely.selectFrom('issued_tokens').select((eb) => eb.fn.countAll<string>().as('n')).where('revoked_at', 'is', null).executeTakeFirstOrThrow()).n);

  const rows: { name: string; argv: string[]; says: RegExp }[] = [
    {
      name: 'another case of a live subject',
      argv: ['--subject', 'Alice@Example.com'],
      says: /^no live token for subject "Alice@Example\.com": nothing revoked\. .*case included.* Differing only by case: "ALICE@example\.com" \(1 live token\), "alice@example\.com" \(2 live tokens\)\. Run again/,
    },
    { name: 'an unknown subject', argv: ['--subject', 'carol@example.com'], says: /^no live token for subject "carol@example\.com": nothing revoked\. .* No live token differs from it only by case either\.$/ },
    { name: 'a subject whose tokens are all revoked', argv: ['--subject', 'bob@example.com'], says: /^no live token for subject "bob@example\.com": nothing revoked/ },
    { name: 'an unknown token id', argv: ['--jti', '00000000-0000-4000-8000-000000000000'], says: /^no live token with id "00000000-0000-4000-8000-000000000000" \(unknown, expired or already revoked\): nothing revoked$/ },
    { name: 'an already revoked token id', argv: ['--jti', bob.jti, '--reason', 'again'], says: /^no live token with id .*: nothing revoked$/ },
  ];
  for (const row of rows) {
    const out: string[] = [];
    const audit = new LogCapture();
    t.equal(await runRevoke(row.argv, { DATABASE_URL: db.url }, (l) => out.push(l), audit), NOTHING_MATCHED, `${row.name}: exit ${NOTHING_MATCHED}`);
    t.equal(out.length, 1, `${row.name}: one line`);
    t.match(out[0], row.says, `${row.name}: says so`);
    t.same(audit.lines, [], `${row.name}: no audit event`);
    t.equal(await live(), 3, `${row.name}: nothing revoked`);
  }

  const out: string[] = [];
  t.equal(await runRevoke(['--subject', ' alice@example.com\n'], { DATABASE_URL: db.url }, (l) => out.push(l), new LogCapture()), 0, 'surrounding whitespace in the argument is not part of a subject');
  t.same(out, ['revoked 2 live tokens']);
  t.equal(await live(), 1, 'the ALICE@ spelling is another subject and stays live');
});
