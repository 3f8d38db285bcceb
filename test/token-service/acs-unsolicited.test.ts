import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';

// Issue 12 item 3: with SAML_ALLOW_IDP_INITIATED=false, an attacker holding an unsolicited signed
// assertion (only the assertion signed) wrote a request id from their own /saml/login into the
// unsigned Response and got a token.
const withResponseInResponseTo = (id: string) => (xml: string): string => xml.replace('<samlp:Response ', `<samlp:Response InResponseTo="${id}" `);

t.test('IdP-initiated off: an unsigned Response cannot make an unsolicited assertion answer a request', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, env: { SAML_ALLOW_IDP_INITIATED: 'false', RATE_LIMIT_MAX: '1000' } });
  const requestIdFromLogin = async (): Promise<string> => {
    t.equal((await svc.app.inject('/saml/login')).statusCode, 302);
    const rows = await db.kysely.selectFrom('saml_requests').select('request_id').orderBy('expires_at', 'desc').execute();
    return rows[0]!.request_id;
  };
  const requestId = await requestIdFromLogin();

  const rows: { name: string; sign: () => Promise<{ samlResponse: string }>; status: number; reason?: string }[] = [
    { name: 'assertion-only signed, unsolicited, request id written into the Response', sign: () => svc.sign({ inResponseTo: null, mutateSigned: withResponseInResponseTo(requestId) }), status: 401, reason: 'unsolicited_response' },
    { name: 'assertion-only signed, Response InResponseTo set, confirmation without one', sign: () => svc.sign({ inResponseTo: requestId, subjectInResponseTo: null }), status: 401, reason: 'unsolicited_response' },
    { name: 'Response signed, unsolicited', sign: () => svc.sign({ sign: 'response', inResponseTo: null }), status: 401, reason: 'unsolicited_response' },
    { name: 'both signed, request id added to the Response after signing', sign: () => svc.sign({ sign: 'both', inResponseTo: null, mutateSigned: withResponseInResponseTo(requestId) }), status: 401, reason: 'bad_signature' },
  ];
  for (const row of rows) {
    const res = await postAcs(svc.app, (await row.sign()).samlResponse);
    t.equal(res.statusCode, row.status, `${row.name}: ${row.status}`);
    t.same(res.json(), { error: 'invalid_saml_response', message: 'the SAML response was not accepted' }, `${row.name}: generic body`);
    t.equal(svc.logs.find((l) => l.event === 'saml_refused' && l.reason === row.reason).length > 0, true, `${row.name}: audited as ${row.reason}`);
  }
  t.same(await db.kysely.selectFrom('issued_tokens').select('jti').execute(), [], 'no token row');
  t.same(await db.kysely.selectFrom('saml_requests').select('request_id').execute(), [{ request_id: requestId }], "the attacker's request id was not spent");

  // The legitimate SP-initiated answers still work: InResponseTo in the signed confirmation
  // (assertion-only signed), or on a signed Response only.
  const ok1 = await postAcs(svc.app, (await svc.sign({ inResponseTo: requestId })).samlResponse);
  t.equal(ok1.statusCode, 200, 'assertion signed, InResponseTo in Response and confirmation');
  const second = await requestIdFromLogin();
  const ok2 = await postAcs(svc.app, (await svc.sign({ sign: 'response', inResponseTo: second, subjectInResponseTo: null })).samlResponse);
  t.equal(ok2.statusCode, 200, 'Response signed, InResponseTo on the Response only');
  t.same(await db.kysely.selectFrom('saml_requests').select('request_id').execute(), [], 'both request ids spent');
});
