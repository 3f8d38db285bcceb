import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';

const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';

t.test('a transient NameID is refused with a page saying what to change at the IdP; nothing issued', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  const doc = await svc.sign({ nameId: '_25e6b0c4d1', nameIdFormat: TRANSIENT });
  const page = await postAcs(svc.app, doc.samlResponse, { accept: 'text/html,application/xhtml+xml' });
  t.equal(page.statusCode, 403);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /in the identity provider, set this application(&#39;|')s NameID format/);
  t.match(page.body, /transient_name_id/);
  t.equal(page.headers['set-cookie'], undefined, 'no cookie');
  const json = await postAcs(svc.app, doc.samlResponse);
  t.equal(json.statusCode, 403);
  t.equal(json.json().error, 'transient_name_id');
  const rows = await db.kysely.selectFrom('issued_tokens').select('jti').execute();
  t.same(rows, [], 'no token written');
  t.equal(svc.logs.find((l) => l.event === 'saml_refused' && l.reason === 'transient_name_id').length, 2, 'audited');
  t.match(await svc.app.metrics.metrics(), /saml_rejected_total\{reason="transient_name_id"\} 2/);
});

t.test('SAML_ALLOW_TRANSIENT_NAMEID=true accepts it', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_TRANSIENT_NAMEID: 'true' } });
  const doc = await svc.sign({ nameId: '_25e6b0c4d1', nameIdFormat: TRANSIENT });
  const res = await postAcs(svc.app, doc.samlResponse);
  t.equal(res.statusCode, 200);
  t.ok(res.json().access_token);
});
