/** SAML Single Logout started here: the signed LogoutRequest to the IdP, its LogoutResponse, a browser sign-out, SLO off, the sweep. */
import t from 'tap';
import { inflateRawSync } from 'node:zlib';
import { withDb } from '../helpers/db.js';
import { buildTokenService, envIdp, IDP_ISSUER } from '../helpers/token-service.js';
import { readSignedRedirect, redirectQuery, signPost } from '../../services/dev-idp/logout.js';
import { continueWithSingleLogout } from '../../services/token-service/routes/single-logout.js';
import { sweepLogoutIds } from '../../services/token-service/store/slo.js';
import { counter, fixture, getSlo, IDP_SLO, otherIdpKeys, postSlo, response } from './slo-fixtures.js';

t.test('SP-initiated logout: a signed LogoutRequest to the IdP; its LogoutResponse completes it once', async (t) => {
  const { sp, svc } = await fixture(t);
  const url = await continueWithSingleLogout(svc.app.db.kysely, envIdp(svc.config), { nameId: 'alice@example.com', sessionIndex: '_s1' }, 'https://app.test.example/bye');
  t.ok(url?.startsWith(`${IDP_SLO}?SAMLRequest=`), 'HTTP-Redirect to the IdP SLO URL');
  const sent = readSignedRedirect(url!.slice(url!.indexOf('?') + 1), sp.cert);
  t.match(sent.xml, /<saml:NameID Format="urn:oasis:names:tc:SAML:1\.1:nameid-format:emailAddress">alice@example\.com<\/saml:NameID>/);
  t.match(sent.xml, /<samlp:SessionIndex>_s1<\/samlp:SessionIndex>/);
  t.match(sent.xml, new RegExp(`Destination="${IDP_SLO}"`));
  const id = /ID="([^"]+)"/.exec(sent.xml)![1]!;
  t.equal(await svc.app.db.kysely.selectFrom('saml_logout_pending').select('return_url').where('request_id', '=', id).executeTakeFirst().then((r) => r?.return_url), 'https://app.test.example/bye');

  const otherIdp = await otherIdpKeys();
  const rows: Array<[string, string, number, string]> = [
    ['unknown InResponseTo', redirectQuery('SAMLResponse', response('_never_sent').xml, svc.idp.key), 403, 'unknown_in_response_to'],
    ['no InResponseTo', redirectQuery('SAMLResponse', response(null).xml, svc.idp.key), 403, 'unknown_in_response_to'],
    ['unsigned', redirectQuery('SAMLResponse', response(id).xml, svc.idp.key, { sha: null }), 403, 'unsigned'],
    ['signed by another key', redirectQuery('SAMLResponse', response(id).xml, otherIdp.key), 403, 'bad_signature'],
    ['wrong issuer', redirectQuery('SAMLResponse', response(id, { issuer: 'https://evil.example' }).xml, svc.idp.key), 403, 'wrong_issuer'],
    ['wrong destination', redirectQuery('SAMLResponse', response(id, { destination: 'https://other.example/slo' }).xml, svc.idp.key), 403, 'wrong_destination'],
    ['IssueInstant too old', redirectQuery('SAMLResponse', response(id, { issueInstant: new Date(Date.now() - 3_600_000) }).xml, svc.idp.key), 403, 'expired'],
    ['SHA-1', redirectQuery('SAMLResponse', response(id).xml, svc.idp.key, { sha: 'sha1' }), 403, 'weak_algorithm'],
  ];
  for (const [name, query, status, reason] of rows) {
    const res = await getSlo(svc.app, query);
    t.equal(res.statusCode, status, `${name}: ${status}`);
    t.ok(svc.logs.find((l) => l.msg === 'SAML logout message refused' && l.reason === reason).length > 0, `${name}: ${reason}`);
  }
  t.ok(await svc.app.db.kysely.selectFrom('saml_logout_pending').select('request_id').where('request_id', '=', id).executeTakeFirst(), 'refusals did not spend the request');

  const done = await getSlo(svc.app, redirectQuery('SAMLResponse', response(id).xml, svc.idp.key));
  t.equal(done.statusCode, 303, 'completed');
  t.equal(done.headers.location, 'https://app.test.example/bye', 'to the return URL kept with the request');
  const again = await getSlo(svc.app, redirectQuery('SAMLResponse', response(id).xml, svc.idp.key));
  t.equal(again.statusCode, 403, 'single use');

  const url2 = await continueWithSingleLogout(svc.app.db.kysely, envIdp(svc.config), { nameId: 'alice@example.com' }, null);
  const id2 = /ID="([^"]+)"/.exec(readSignedRedirect(url2!.split('?')[1]!, sp.cert).xml)![1]!;
  const r2 = response(id2, { status: 'urn:oasis:names:tc:SAML:2.0:status:Success', secondStatus: 'urn:oasis:names:tc:SAML:2.0:status:PartialLogout' });
  const partial = await postSlo(svc.app, { SAMLResponse: signPost(r2.xml, r2.id, svc.idp) });
  t.equal(partial.statusCode, 200, 'HTTP-POST LogoutResponse accepted');
  t.match(partial.body, /could not sign you out everywhere/, 'a partial logout is said');
  t.equal(await counter(svc.app, 'saml_slo_total', 'direction="sp_initiated",result="partial"'), 1);
  t.equal(await counter(svc.app, 'saml_slo_total', 'direction="sp_initiated",result="completed"'), 1);

  const url3 = await continueWithSingleLogout(svc.app.db.kysely, envIdp(svc.config), { nameId: 'alice@example.com' }, null);
  const id3 = /ID="([^"]+)"/.exec(readSignedRedirect(url3!.split('?')[1]!, sp.cert).xml)![1]!;
  const page = await getSlo(svc.app, redirectQuery('SAMLResponse', response(id3).xml, svc.idp.key));
  t.equal(page.statusCode, 200);
  t.match(page.body, /<h1>Signed out<\/h1>/, 'the signed-out page');
});

t.test('without SLO configured there is no /saml/slo and no continuation', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  t.equal((await getSlo(svc.app, 'SAMLRequest=x')).statusCode, 404);
  t.equal(await continueWithSingleLogout(svc.app.db.kysely, envIdp(svc.config), { nameId: 'alice@example.com' }, null), undefined);
});

t.test('the LogoutRequest we send inflates to the XML we signed', async (t) => {
  const { svc } = await fixture(t);
  const url = new URL((await continueWithSingleLogout(svc.app.db.kysely, envIdp(svc.config), { nameId: 'a&b@example.com' }, null))!);
  const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString();
  t.match(xml, /a&amp;b@example\.com/, 'escaped');
  t.notMatch(xml, /SessionIndex/, 'no SessionIndex when the session had none');
});

t.test('a browser sign-out continues at the IdP with the session\'s NameID, format and SessionIndex, and ends on rd', async (t) => {
  const { db, sp, svc } = await fixture(t);
  const signed = await svc.sign({ nameId: 'alice@example.com', email: 'alice@example.com', sessionIndex: '_idp_session_7' });
  const acs = await svc.app.inject({
    method: 'POST', url: '/saml/acs', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    payload: new URLSearchParams({ SAMLResponse: signed.samlResponse, RelayState: 'https://app.test.example/' }).toString(),
  });
  t.equal(acs.statusCode, 303, 'signed in');
  const cookies = [acs.headers['set-cookie'] ?? []].flat().map((c) => String(c).split(';', 1)[0]).join('; ');
  const out = await svc.app.inject({
    method: 'POST', url: '/logout',
    headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', cookie: cookies },
    payload: new URLSearchParams({ rd: 'https://app.test.example/bye' }).toString(),
  });
  t.equal(out.statusCode, 303);
  const location = String(out.headers.location);
  t.ok(location.startsWith(`${IDP_SLO}?SAMLRequest=`), 'continues at the IdP');
  const sent = readSignedRedirect(location.slice(location.indexOf('?') + 1), sp.cert);
  t.match(sent.xml, /<saml:NameID Format="urn:oasis:names:tc:SAML:1\.1:nameid-format:emailAddress">alice@example\.com<\/saml:NameID>/);
  t.match(sent.xml, /<samlp:SessionIndex>_idp_session_7<\/samlp:SessionIndex>/);
  const live = await db.kysely.selectFrom('issued_tokens').select('jti').where('revoked_at', 'is', null).execute();
  t.same(live, [], 'the local session already ended');
  t.equal(svc.logs.find((l) => l.event === 'slo_out' && l.result === 'started').length, 1, 'audited');

  const id = /ID="([^"]+)"/.exec(sent.xml)![1]!;
  const back = await getSlo(svc.app, redirectQuery('SAMLResponse', response(id).xml, svc.idp.key));
  t.equal(back.statusCode, 303);
  t.equal(back.headers.location, 'https://app.test.example/bye', 'the allowed rd, kept with the request');
});

t.test('the sweep deletes expired logout ids and keeps live ones', async (t) => {
  const { db } = await fixture(t);
  const past = new Date(Date.now() - 1000);
  const future = new Date(Date.now() + 60_000);
  await db.kysely.insertInto('saml_logout_seen').values([
    { idp_issuer: IDP_ISSUER, request_id: '_old', expires_at: past },
    { idp_issuer: IDP_ISSUER, request_id: '_new', expires_at: future },
  ]).execute();
  await db.kysely.insertInto('saml_logout_pending').values([
    { request_id: '_p_old', return_url: null, expires_at: past },
    { request_id: '_p_new', return_url: null, expires_at: future },
  ]).execute();
  t.same(await sweepLogoutIds(db.kysely), { logoutSeen: 1, logoutPending: 1 });
  t.same((await db.kysely.selectFrom('saml_logout_seen').select('request_id').execute()).map((r) => r.request_id), ['_new']);
  t.same((await db.kysely.selectFrom('saml_logout_pending').select('request_id').execute()).map((r) => r.request_id), ['_p_new']);
  t.same(await sweepLogoutIds(db.kysely), { logoutSeen: 0, logoutPending: 0 }, 'idempotent');
});
