import t from 'tap';
import { withDb } from '../helpers/db.js';
import { ACS_URL, IDP_ISSUER, SP_ENTITY, buildTokenService, envIdp, postAcs } from '../helpers/token-service.js';
import type { TokenServiceConfig } from '../../services/token-service/config.js';
import { buildDevIdp } from '../../services/dev-idp/app.js';
import { generateSpEncryptionKeys } from '../../services/dev-idp/keys.js';
import { FORMATS } from '../../services/dev-idp/slo.js';
import { buildLoginRedirect } from '../../services/token-service/saml/login.js';
import { continueWithSingleLogout } from '../../services/token-service/routes/single-logout.js';
import { insertSession } from '../../services/token-service/store/sessions.js';

const SP_SLO = 'https://auth.test.example/saml/slo';
const field = (html: string, name: string): string | null => {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return m?.[1] === undefined ? null : m[1].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
};
const pathOf = (location: unknown): string => { const u = new URL(String(location)); return `${u.pathname}${u.search}`; };

async function setup(t: { teardown(fn: () => unknown): void }, idpFormat?: string) {
  const db = await withDb(t);
  const sp = await generateSpEncryptionKeys('test SP signing');
  const svc = await buildTokenService(t, {
    databaseUrl: db.url,
    env: { SAML_SP_SIGNING_KEY: sp.key, SAML_SP_SIGNING_CERT: sp.cert, SAML_IDP_SLO_URL: 'https://idp.test.example/slo', SAML_ALLOW_IDP_INITIATED: 'false' },
  });
  const idp = await buildDevIdp({ idp: svc.idp, issuer: IDP_ISSUER, acsUrl: ACS_URL, spEntityId: SP_ENTITY, slo: { spCert: sp.cert, spSloUrl: SP_SLO }, ...(idpFormat ? { nameIdFormat: idpFormat } : {}) });
  t.teardown(() => idp.close());
  return { db, svc, idp };
}

/** The dev IdP's sign-in form, submitted; returns the SAMLResponse and the IdP's session cookie. */
async function signInAtIdp(idp: Awaited<ReturnType<typeof buildDevIdp>>, svc: { config: TokenServiceConfig }, user = 'alice@example.com') {
  const login = await buildLoginRedirect(envIdp(svc.config));
  const form = await idp.inject({ method: 'GET', url: `/sso${new URL(login.url).search}` });
  const posted = await idp.inject({
    method: 'POST', url: '/sso', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ requestId: login.requestId, nameIdFormat: field(form.body, 'nameIdFormat') ?? '', nameId: user, email: user, groups: 'staff' }).toString(),
  });
  const cookie = String(posted.headers['set-cookie'] ?? '').split(';')[0]!;
  return { form, samlResponse: field(posted.body, 'SAMLResponse') ?? '', cookie, login };
}

t.test('the dev IdP honours NameIDPolicy; forced transient is refused by the token-service', async (t) => {
  const { svc, idp } = await setup(t);
  const { form, samlResponse } = await signInAtIdp(idp, svc);
  t.equal(field(form.body, 'nameIdFormat'), FORMATS.email, 'the requested format is carried by the form');
  const xml = Buffer.from(samlResponse, 'base64').toString();
  t.match(xml, `Format="${FORMATS.email}">alice@example.com<`);

  const transient = await setup(t, FORMATS.transient);
  const sent = await signInAtIdp(transient.idp, transient.svc);
  t.match(Buffer.from(sent.samlResponse, 'base64').toString(), `Format="${FORMATS.transient}">_`);
  const res = await postAcs(transient.svc.app, sent.samlResponse);
  t.equal(res.statusCode, 403);
  t.equal(res.json().error, 'transient_name_id');
});

t.test('SP-initiated SLO through the dev IdP: its session ends, so the next sign-in shows the form again', async (t) => {
  const { db, svc, idp } = await setup(t);
  const first = await signInAtIdp(idp, svc);
  t.match(first.cookie, /^dev_idp_session=/);
  const again = await buildLoginRedirect(envIdp(svc.config));
  const sso = await idp.inject({ method: 'GET', url: `/sso${new URL(again.url).search}`, headers: { cookie: first.cookie } });
  t.ok(field(sso.body, 'SAMLResponse'), 'while signed in at the IdP, no form: single sign-on');

  const to = await continueWithSingleLogout(db.kysely, envIdp(svc.config), { nameId: 'alice@example.com' }, null);
  const atIdp = await idp.inject({ method: 'GET', url: pathOf(to), headers: { cookie: first.cookie } });
  t.equal(atIdp.statusCode, 302, 'the IdP verified our LogoutRequest');
  t.ok(String(atIdp.headers.location).startsWith(`${SP_SLO}?SAMLResponse=`));
  const back = await svc.app.inject({ method: 'GET', url: pathOf(atIdp.headers.location), headers: { accept: 'text/html' } });
  t.equal(back.statusCode, 200, 'the token-service accepted the dev IdP\'s LogoutResponse');
  t.match(back.body, /Signed out/);

  const later = await buildLoginRedirect(envIdp(svc.config));
  const form = await idp.inject({ method: 'GET', url: `/sso${new URL(later.url).search}`, headers: { cookie: first.cookie } });
  t.equal(field(form.body, 'SAMLResponse'), null, 'no single sign-on any more');
  t.match(form.body, /<form method="post" action="\/sso">/, 'the sign-in form again');

  const forged = await idp.inject({ method: 'GET', url: pathOf(to).replace('SigAlg=', 'RelayState=x&SigAlg=') });
  t.equal(forged.statusCode, 400, 'a LogoutRequest that does not verify is refused by the dev IdP');
});

t.test('IdP-initiated SLO from the dev IdP (/dev/logout-all) ends the sessions at the token-service', async (t) => {
  const { db, svc, idp } = await setup(t);
  const now = Date.now();
  await insertSession(db.kysely, {
    sid: 's1', secretHash: Buffer.from('x'), subject: 'alice@example.com', email: null, groups: [], idpIssuer: IDP_ISSUER, sessionIndex: '_a',
    nameIdFormat: FORMATS.email, clientAddress: null, createdAt: new Date(now - 1000), idleExpiresAt: new Date(now + 60_000), expiresAt: new Date(now + 60_000),
  });
  const out = await idp.inject({ method: 'GET', url: '/dev/logout-all?nameId=alice@example.com' });
  t.equal(out.statusCode, 302);
  const atSp = await svc.app.inject({ method: 'GET', url: pathOf(out.headers.location) });
  t.equal(atSp.statusCode, 302, 'the token-service verified the dev IdP\'s LogoutRequest');
  const row = await db.kysely.selectFrom('sessions').select('end_reason').where('sid', '=', 's1').executeTakeFirstOrThrow();
  t.equal(row.end_reason, 'idp_logout');
  const done = await idp.inject({ method: 'GET', url: pathOf(atSp.headers.location) });
  t.equal(done.statusCode, 200, 'the dev IdP verified our LogoutResponse');
  t.match(done.body, /Signed out/);
});

t.test('ForceAuthn: while signed in at the dev IdP, an AuthnRequest with ForceAuthn="true" gets the sign-in form again, not single sign-on', async (t) => {
  const { svc, idp } = await setup(t);
  const { cookie } = await signInAtIdp(idp, svc);
  const plain = await buildLoginRedirect(envIdp(svc.config));
  const sso = await idp.inject({ method: 'GET', url: `/sso${new URL(plain.url).search}`, headers: { cookie } });
  t.ok(field(sso.body, 'SAMLResponse'), 'without ForceAuthn: answered from the IdP session');
  const forced = await buildLoginRedirect(envIdp(svc.config), undefined, new Date(), { forceAuthn: true });
  const form = await idp.inject({ method: 'GET', url: `/sso${new URL(forced.url).search}`, headers: { cookie } });
  t.equal(form.statusCode, 200);
  t.equal(field(form.body, 'SAMLResponse'), null, 'with ForceAuthn: no response from the session');
  t.match(form.body, /<form method="post" action="\/sso">/, 'the sign-in form');
  t.equal(field(form.body, 'requestId'), forced.requestId, 'for that request');
});
