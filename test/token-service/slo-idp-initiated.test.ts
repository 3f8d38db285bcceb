/** SAML Single Logout started by the IdP at /saml/slo: refusals, the sessions it ends, its answer, both replicas, hostile input. */
import t from 'tap';
import { SP_ENTITY } from '../helpers/token-service.js';
import { buildAuthz } from '../helpers/authz.js';
import { readSignedRedirect, redirectQuery, signPost } from '../../services/dev-idp/logout.js';
import type { App } from '../../services/shared/app-base.js';
import { counter, fixture, getSlo, IDP_SLO, live, otherIdpKeys, postSlo, request, response, signIn } from './slo-fixtures.js';

t.test('IdP-initiated LogoutRequest refusals: 4xx page, reason logged and counted, nothing revoked', async (t) => {
  const { db, svc } = await fixture(t);
  const idp = svc.idp;
  const otherIdp = await otherIdpKeys();
  const now = Date.now();
  const replayed = request();
  const replayQuery = redirectQuery('SAMLRequest', replayed.xml, idp.key);
  const session = await signIn(db, svc, 'alice@example.com', '_s1');
  t.equal((await getSlo(svc.app, replayQuery)).statusCode, 302, 'the replayed request was accepted once');
  const victim = await signIn(db, svc, 'alice@example.com', '_s1');
  t.notOk(await live(db, session.jti), 'and revoked the first session');

  const rows: Array<[string, () => Promise<{ statusCode: number }>, number, string]> = [
    ['unsigned (redirect)', () => getSlo(svc.app, redirectQuery('SAMLRequest', request().xml, idp.key, { sha: null })), 403, 'unsigned'],
    ['unsigned (post)', () => postSlo(svc.app, { SAMLRequest: Buffer.from(request().xml).toString('base64') }), 403, 'unsigned'],
    ['signed by another key (redirect)', () => getSlo(svc.app, redirectQuery('SAMLRequest', request().xml, otherIdp.key)), 403, 'bad_signature'],
    ['signed by another key (post)', () => { const r = request(); return postSlo(svc.app, { SAMLRequest: signPost(r.xml, r.id, otherIdp) }); }, 403, 'bad_signature'],
    ['bad signature: message changed after signing', () => getSlo(svc.app, redirectQuery('SAMLRequest', request().xml, idp.key).replace(/RelayState=[^&]*&|SigAlg=/, (m) => `RelayState=x&${m}`)), 403, 'bad_signature'],
    ['bad signature: post document changed after signing', () => { const r = request(); const signed = Buffer.from(signPost(r.xml, r.id, idp), 'base64').toString().replace('alice@example.com', 'bob@example.com'); return postSlo(svc.app, { SAMLRequest: Buffer.from(signed).toString('base64') }); }, 403, 'bad_signature'],
    ['SHA-1 query signature', () => getSlo(svc.app, redirectQuery('SAMLRequest', request().xml, idp.key, { sha: 'sha1' })), 403, 'weak_algorithm'],
    ['SHA-1 enveloped signature', () => { const r = request(); return postSlo(svc.app, { SAMLRequest: signPost(r.xml, r.id, idp, 'sha1') }); }, 403, 'weak_algorithm'],
    ['SigAlg of no binding we verify', () => getSlo(svc.app, redirectQuery('SAMLRequest', request().xml, idp.key).replace(/SigAlg=[^&]*/, `SigAlg=${encodeURIComponent('http://www.w3.org/2000/09/xmldsig#dsa-sha256')}`)), 403, 'unsupported_algorithm'],
    ['wrong issuer', () => getSlo(svc.app, redirectQuery('SAMLRequest', request({ issuer: 'https://evil.example' }).xml, idp.key)), 403, 'wrong_issuer'],
    ['no issuer', () => getSlo(svc.app, redirectQuery('SAMLRequest', request({ issuer: null }).xml, idp.key)), 403, 'wrong_issuer'],
    ['wrong destination', () => getSlo(svc.app, redirectQuery('SAMLRequest', request({ destination: 'https://other.example/saml/slo' }).xml, idp.key)), 403, 'wrong_destination'],
    ['no destination', () => getSlo(svc.app, redirectQuery('SAMLRequest', request({ destination: null }).xml, idp.key)), 403, 'wrong_destination'],
    ['IssueInstant in the future', () => getSlo(svc.app, redirectQuery('SAMLRequest', request({ issueInstant: new Date(now + 5 * 60_000) }).xml, idp.key)), 403, 'not_yet_valid'],
    ['IssueInstant too old', () => getSlo(svc.app, redirectQuery('SAMLRequest', request({ issueInstant: new Date(now - 10 * 60_000) }).xml, idp.key)), 403, 'expired'],
    ['NotOnOrAfter passed', () => getSlo(svc.app, redirectQuery('SAMLRequest', request({ notOnOrAfter: new Date(now - 2 * 60_000) }).xml, idp.key)), 403, 'expired'],
    ['replayed', () => getSlo(svc.app, replayQuery), 403, 'replay'],
    ['replayed through the other binding', () => postSlo(svc.app, { SAMLRequest: signPost(replayed.xml, replayed.id, idp) }), 403, 'replay'],
    ['no NameID', () => getSlo(svc.app, redirectQuery('SAMLRequest', request({ nameId: null }).xml, idp.key)), 400, 'malformed'],
    ['NameID with a zero-width space', () => getSlo(svc.app, redirectQuery('SAMLRequest', request({ nameId: 'alice@example.com\u200b' }).xml, idp.key)), 403, 'invalid_name_id'],
    ['not deflated', () => getSlo(svc.app, `SAMLRequest=${encodeURIComponent(Buffer.from(request().xml).toString('base64'))}`), 403, 'unsigned'],
    ['signed garbage', () => getSlo(svc.app, redirectQuery('SAMLRequest', '<samlp:LogoutRequest', idp.key)), 400, 'malformed'],
    ['DOCTYPE', () => getSlo(svc.app, redirectQuery('SAMLRequest', `<!DOCTYPE x [<!ENTITY e "alice">]>${request().xml}`, idp.key)), 400, 'dtd_forbidden'],
    ['both SAMLRequest and SAMLResponse', () => getSlo(svc.app, `${redirectQuery('SAMLRequest', request().xml, idp.key)}&SAMLResponse=x`), 400, 'wrong_binding'],
    ['SAMLRequest twice', () => getSlo(svc.app, `SAMLRequest=x&${redirectQuery('SAMLRequest', request().xml, idp.key)}`), 400, 'wrong_binding'],
    ['no message at all', () => getSlo(svc.app, 'foo=bar'), 400, 'wrong_binding'],
    ['a LogoutResponse sent as SAMLRequest', () => getSlo(svc.app, redirectQuery('SAMLRequest', response('_x').xml, idp.key)), 400, 'wrong_binding'],
  ];
  for (const [name, send, status, reason] of rows) {
    const before = await counter(svc.app, 'saml_slo_refused_total', `reason="${reason}"`);
    const res = (await send()) as { statusCode: number; headers: Record<string, unknown>; body: string };
    t.equal(res.statusCode, status, `${name}: ${status}`);
    t.match(res.headers['content-type'], /^text\/html/, `${name}: a page`);
    t.notMatch(res.body, /alice|LogoutRequest|Signature/, `${name}: no internals on the page`);
    t.equal(res.headers.location, undefined, `${name}: not answered with a LogoutResponse`);
    t.equal(await counter(svc.app, 'saml_slo_refused_total', `reason="${reason}"`), before + 1, `${name}: counted as ${reason}`);
    t.ok(svc.logs.find((l) => l.msg === 'SAML logout message refused' && l.reason === reason).length > 0, `${name}: logged as ${reason}`);
    t.ok(await live(db, victim.jti), `${name}: nothing revoked`);
  }
  const json = await getSlo(svc.app, redirectQuery('SAMLRequest', request({ issuer: 'x' }).xml, idp.key), 'application/json');
  t.same(JSON.parse(json.body), { error: 'logout_refused', message: json.json().message }, 'JSON clients get JSON');
  t.notOk(svc.logs.raw.some((l) => /SAMLRequest=|PHNhbWxw|<samlp:/.test(l)), 'no SAML message in the logs');
});

t.test('IdP-initiated logout, HTTP-Redirect: ends that session only, answers a signed LogoutResponse to the IdP', async (t) => {
  const { db, sp, svc } = await fixture(t);
  const s1 = await signIn(db, svc, 'alice@example.com', '_s1');
  const s2 = await signIn(db, svc, 'alice@example.com', '_s2');
  const bob = await signIn(db, svc, 'bob@example.com', '_s1');
  const req = request({ sessionIndexes: ['_s1'] });
  const res = await getSlo(svc.app, redirectQuery('SAMLRequest', req.xml, svc.idp.key, { relayState: 'idp state & more' }));
  t.equal(res.statusCode, 302);
  t.match(res.headers['set-cookie'], /Max-Age=0/, 'our cookie is cleared in this browser');
  const location = String(res.headers.location);
  t.ok(location.startsWith(`${IDP_SLO}?SAMLResponse=`), 'to the IdP SLO URL, HTTP-Redirect');
  const answer = readSignedRedirect(location.slice(location.indexOf('?') + 1), sp.cert);
  t.equal(answer.param, 'SAMLResponse');
  t.equal(answer.relayState, 'idp state & more', 'RelayState returned');
  t.match(answer.xml, new RegExp(`InResponseTo="${req.id}"`));
  t.match(answer.xml, /<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"\/>/);
  t.match(answer.xml, new RegExp(`Destination="${IDP_SLO}"`));
  t.match(answer.xml, new RegExp(`<saml:Issuer>${SP_ENTITY}</saml:Issuer>`));
  t.notOk(await live(db, s1.jti), 'the named session\'s token is revoked');
  t.ok(await live(db, s2.jti), 'her other session is not');
  t.ok(await live(db, bob.jti), 'nor anyone else\'s');
  const session = await db.kysely.selectFrom('sessions').select(['ended_at', 'end_reason']).where('sid', '=', s1.sid).executeTakeFirstOrThrow();
  t.equal(session.end_reason, 'idp_logout');
  t.equal(await counter(svc.app, 'saml_slo_total', 'direction="idp_initiated",result="completed"'), 1);
  t.equal(svc.logs.find((l) => l.event === 'slo_in' && l.subject === 'alice@example.com' && l.result === 'completed').length, 1, 'audited');

  const none = await getSlo(svc.app, redirectQuery('SAMLRequest', request({ nameId: 'carol@example.com' }).xml, svc.idp.key));
  t.equal(none.statusCode, 302, 'a NameID without sessions is answered Success too');
  t.match(readSignedRedirect(String(none.headers.location).split('?')[1]!, sp.cert).xml, /status:Success/);
  t.equal(await counter(svc.app, 'saml_slo_total', 'direction="idp_initiated",result="no_session"'), 1);
});

t.test('IdP-initiated logout, HTTP-POST, no SessionIndex: every session of the NameID ends', async (t) => {
  const { db, svc } = await fixture(t);
  const s1 = await signIn(db, svc, 'alice@example.com', '_s1');
  const s2 = await signIn(db, svc, 'alice@example.com', null);
  const req = request({ sessionIndexes: [] });
  const res = await postSlo(svc.app, { SAMLRequest: signPost(req.xml, req.id, svc.idp) });
  t.equal(res.statusCode, 302);
  t.ok(String(res.headers.location).startsWith(`${IDP_SLO}?SAMLResponse=`));
  t.notOk(await live(db, s1.jti));
  t.notOk(await live(db, s2.jti));
});

t.test('IdP-initiated logout reaches two authz replicas within a second', async (t) => {
  const { db, svc } = await fixture(t);
  const a = await buildAuthz(t, { databaseUrl: db.url, keys: [svc.jwtKey] });
  const b = await buildAuthz(t, { databaseUrl: db.url, keys: [svc.jwtKey] });
  const ask = (app: App, token: string) =>
    app.inject({ method: 'GET', url: '/auth', headers: { 'x-original-uri': '/app/x', 'x-original-method': 'GET', host: 'app.example.com', authorization: `Bearer ${token}` } });
  const s = await signIn(db, svc, 'alice@example.com', '_s9');
  t.equal((await ask(a.app, s.token)).statusCode, 200, 'replica A allows before');
  t.equal((await ask(b.app, s.token)).statusCode, 200, 'replica B allows before');
  const started = performance.now();
  t.equal((await getSlo(svc.app, redirectQuery('SAMLRequest', request({ sessionIndexes: ['_s9'] }).xml, svc.idp.key))).statusCode, 302);
  const seen = await Promise.all([a.app, b.app].map(async (app) => {
    for (;;) {
      if ((await ask(app, s.token)).statusCode === 401) return performance.now() - started;
      if (performance.now() - started > 1000) return Infinity;
      await new Promise((r) => setTimeout(r, 5));
    }
  }));
  t.comment(`refused by both replicas after ${seen.map((x) => x.toFixed(1)).join(', ')} ms`);
  t.ok(Math.max(...seen) < 1000, 'both refuse within 1 s');
});

t.test('hostile input to /saml/slo is a 4xx, never a 5xx, and revokes nothing', async (t) => {
  const { db, svc } = await fixture(t);
  const s = await signIn(db, svc, 'alice@example.com', '_s1');
  const signed = redirectQuery('SAMLRequest', request().xml, svc.idp.key);
  const queries = [
    '', 'SAMLRequest', 'SAMLRequest=&SigAlg=&Signature=', 'SAMLRequest=%', 'SAMLRequest=x&SigAlg=%E0%A4&Signature=x',
    signed.replace(/Signature=[^&]*/, 'Signature=%%%'), signed.replace(/Signature=[^&]*/, 'Signature=AAAA'),
    signed.replace(/SigAlg=[^&]*/, 'SigAlg='), `${signed}&RelayState=%FF`, signed.replace('SAMLRequest=', 'SAMLRequest=AAAA'),
    redirectQuery('SAMLRequest', 'x'.repeat(400_000), svc.idp.key),
    redirectQuery('SAMLRequest', `<a>${'<b>'.repeat(100)}${'</b>'.repeat(100)}</a>`, svc.idp.key),
    redirectQuery('SAMLRequest', '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>', svc.idp.key),
    redirectQuery('SAMLRequest', request({ issueInstant: null }).xml, svc.idp.key),
  ];
  for (const q of queries) {
    const res = await getSlo(svc.app, q);
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `GET ?${q.slice(0, 40)}…: ${res.statusCode}`);
  }
  const bodies = [
    'SAMLRequest=', 'SAMLRequest=x&SAMLRequest=y', 'SAMLRequest=%%', 'SAMLResponse=PHg%2B', 'other=1', `SAMLRequest=${encodeURIComponent(Buffer.from('<!DOCTYPE x><x/>').toString('base64'))}`,
  ];
  for (const body of bodies) {
    const res = await svc.app.inject({ method: 'POST', url: '/saml/slo', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, payload: body });
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `POST ${body.slice(0, 40)}: ${res.statusCode}`);
    t.match(res.headers['content-type'], /^text\/html/, `POST ${body.slice(0, 40)}: a page`);
  }
  t.ok(await live(db, s.jti), 'nothing revoked');
});
