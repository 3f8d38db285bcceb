import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';
import { newSigningKey } from '../helpers/tokens.js';

// Issue 12 item 10 end to end: a pretty-printing IdP's NameID and group values reach the rules
// trimmed, so `subjects` and `groups` deny rules apply (they used to be escaped by the whitespace).
const POLICY = `
rules:
  - id: staff-app
    effect: allow
    paths: ["/app/**"]
    groups: [staff]
  - id: alice-not-payroll
    effect: deny
    paths: ["/app/payroll/**"]
    subjects: ["alice@example.com"]
  - id: contractors-no-reports
    effect: deny
    paths: ["/app/reports/**"]
    groups: [contractors]
`;
const pretty = (x: string): string =>
  x.replace(/(<saml:NameID[^>]*>)alice@example\.com</, '$1\n        alice@example.com\n      <')
    .replace(/(<saml:AttributeValue[^>]*>)([^<]+)</g, '$1\n          $2\n        <');

t.test('rules see the pretty-printed NameID and groups as the IdP meant them', async (t) => {
  const db = await withDb(t);
  const jwtKey = newSigningKey('ES256');
  const token = await buildTokenService(t, { databaseUrl: db.url, jwtKey });
  const authz = await buildAuthz(t, { databaseUrl: db.url, keys: [jwtKey], policy: POLICY });
  const { samlResponse } = await token.sign({ groups: ['staff', 'contractors'], mutateAssertion: pretty });
  t.match(Buffer.from(samlResponse, 'base64').toString(), />\n {10}contractors\n {8}</, 'the signed group values really are pretty-printed');
  const res = await postAcs(token.app, samlResponse);
  t.equal(res.statusCode, 200);
  const bearer = `Bearer ${(res.json() as { access_token: string }).access_token}`;

  const rows: { path: string; status: number; rule?: string }[] = [
    { path: '/app/home', status: 200 },
    { path: '/app/payroll/2030', status: 403, rule: 'alice-not-payroll' },
    { path: '/app/reports/q1', status: 403, rule: 'contractors-no-reports' },
  ];
  for (const row of rows) {
    const answer = await authz.app.inject({ url: '/auth', headers: { 'x-original-uri': row.path, 'x-original-method': 'GET', host: 'app.example.com', authorization: bearer } });
    t.equal(answer.statusCode, row.status, `${row.path}: ${row.status}`);
    if (row.rule) t.equal(answer.headers['x-auth-request-rule'], row.rule, `${row.path}: denied by ${row.rule}`);
    else t.equal(answer.headers['x-auth-request-user'], 'alice@example.com', `${row.path}: upstream sees the trimmed user`);
  }
});
