import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, sign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { decodeJwt } from 'jose';
import { withDb } from '../helpers/db.js';
import { ACS_URL, IDP_ISSUER, SP_ENTITY, buildTokenService, postAcs, RETURN_BASE, type TokenFixture } from '../helpers/token-service.js';
import { readAuthnRequest } from '../../services/dev-idp/app.js';
import { generateIdpKeys, type KeyPair } from '../../services/dev-idp/keys.js';
import { signSamlResponse } from '../../services/dev-idp/sign.js';
import { loadTokenServiceConfig } from '../../services/token-service/config.js';
import { ConfigError } from '../../services/shared/env.js';
import { generateSpEncryptionKeys } from '../../services/dev-idp/keys.js';
import { logoutRequestXml, logoutResponseXml, readSignedRedirect, redirectQuery } from '../../services/dev-idp/logout.js';
import { insertSession } from '../../services/token-service/store/sessions.js';
import { continueWithSingleLogout } from '../../services/token-service/routes/single-logout.js';
import { withIdp } from '../../services/token-service/saml/config.js';
import { RSA_SHA256 } from '../../services/token-service/saml/redirect-binding.js';
import { NOTHING_MATCHED, runRevoke } from '../../services/token-service/cli/revoke.js';
import { LogCapture } from '../helpers/app.js';

// Two IdPs from a real SAML_IDPS_FILE, different keys: a hospital's and a partner clinic's.
const CLINIC = 'https://idp.clinic.example/saml';
const HTML = 'text/html,application/xhtml+xml';
const RD = `${RETURN_BASE}charts`;
const [hospitalKey, clinicKey] = await Promise.all([generateIdpKeys('hospital IdP'), generateIdpKeys('clinic IdP')]);
const indent = (pem: string) => pem.trim().split('\n').map((l) => `      ${l}`).join('\n');
const hospitalYaml = `- name: hospital
  entityId: ${IDP_ISSUER}
  displayName: St Mary's Hospital
  certificates: |
${indent(hospitalKey.cert)}
  ssoUrl: https://idp.hospital.example/sso
`;
const clinicYaml = `- name: clinic
  entityId: ${CLINIC}
  displayName: Riverside Clinic <partner>
  certificates: |
${indent(clinicKey.cert)}
  ssoUrl: https://idp.clinic.example/sso
`;

const dir = await mkdtemp(join(tmpdir(), 'saml-authz-idps-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
let files = 0;
async function idpsFile(text: string): Promise<string> {
  const file = join(dir, `idps-${files++}.yaml`);
  await writeFile(file, text);
  return file;
}

async function service(t: Parameters<typeof withDb>[0], file: string, env: Record<string, string> = {}) {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url, idpsFile: file, env: { SAML_ALLOW_IDP_INITIATED: 'false', RATE_LIMIT_MAX: '1000', ...env } });
  return { db, svc };
}

/** A browser's GET /saml/login with `query`: where it was sent, the request id and its state cookie. */
async function startLogin(svc: TokenFixture, query: string) {
  const res = await svc.app.inject({ url: `/saml/login?rd=${encodeURIComponent(RD)}&${query}`, headers: { accept: HTML } });
  if (res.statusCode !== 302) throw new Error(`login: ${res.statusCode} ${res.body}`);
  const location = new URL(String(res.headers.location));
  const cookie = String(res.headers['set-cookie']).split(';', 1)[0]!;
  return { location, cookie, requestId: readAuthnRequest(location.searchParams.get('SAMLRequest') ?? '').id };
}

const respond = (idp: KeyPair, issuer: string, inResponseTo: string, nameId = 'alice@example.com') =>
  signSamlResponse({ idp, issuer, acsUrl: ACS_URL, audience: SP_ENTITY, inResponseTo, nameId, email: nameId, groups: ['staff'] });

async function finish(svc: TokenFixture, login: { cookie: string }, samlResponse: string) {
  return postAcs(svc.app, samlResponse, { accept: HTML, relayState: RD, headers: { cookie: login.cookie } });
}

const tokenOf = (res: { headers: Record<string, unknown> }) =>
  [res.headers['set-cookie'] ?? []].flat().map(String).find((c) => c.startsWith('__Host-saml_authz='))?.split(';', 1)[0]?.slice('__Host-saml_authz='.length);

async function signIns(svc: TokenFixture): Promise<string> {
  return (await svc.app.metrics.getSingleMetricAsString('saml_sign_ins_total')).split('\n').filter((l) => !l.startsWith('#') && !l.endsWith(' 0')).join('\n');
}

t.test('both IdPs sign in through their own login; the token, the session and the metric name the IdP', async (t) => {
  const { db, svc } = await service(t, await idpsFile(hospitalYaml + clinicYaml));
  for (const [name, key, entityId, sso] of [['hospital', hospitalKey, IDP_ISSUER, 'idp.hospital.example'], ['clinic', clinicKey, CLINIC, 'idp.clinic.example']] as const) {
    const login = await startLogin(svc, `idp=${name}`);
    t.equal(login.location.host, sso, `${name}: the AuthnRequest goes to its SSO URL`);
    const row = await db.kysely.selectFrom('saml_requests').select('idp_issuer').where('request_id', '=', login.requestId).executeTakeFirstOrThrow();
    t.equal(row.idp_issuer, entityId, `${name}: the request id remembers the IdP it was sent to`);
    const res = await finish(svc, login, (await respond(key, entityId, login.requestId, `user@${name}.example`)).samlResponse);
    t.equal(res.statusCode, 303, `${name}: signed in`);
    const claims = decodeJwt(tokenOf(res)!);
    t.equal(claims.idp, entityId, `${name}: the token's idp claim`);
    const session = await db.kysely.selectFrom('sessions').select('idp_issuer').where('sid', '=', String(claims.sid)).executeTakeFirstOrThrow();
    t.equal(session.idp_issuer, entityId, `${name}: the session's IdP`);
  }
  t.equal(await signIns(svc), 'saml_sign_ins_total{idp="hospital",result="issued"} 1\nsaml_sign_ins_total{idp="clinic",result="issued"} 1');
  // The entity id works as the idp parameter too.
  t.equal((await startLogin(svc, `idp=${encodeURIComponent(CLINIC)}`)).location.host, 'idp.clinic.example');
});

t.test('without idp: a chooser page (links carry rd and the IdP, names escaped); programs get 400; an unknown idp 400', async (t) => {
  const { svc } = await service(t, await idpsFile(hospitalYaml + clinicYaml));
  const page = await svc.app.inject({ url: `/saml/login?rd=${encodeURIComponent(RD)}`, headers: { accept: HTML } });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.notMatch(page.body, /<script/i, 'no script');
  const hrefs = [...page.body.matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1]!.replaceAll('&amp;', '&'), m[2]]);
  t.same(hrefs, [
    [`/saml/login?rd=${encodeURIComponent(RD)}&idp=hospital`, 'St Mary&#39;s Hospital'],
    [`/saml/login?rd=${encodeURIComponent(RD)}&idp=clinic`, 'Riverside Clinic &lt;partner&gt;'],
  ]);
  t.match(page.body, /<nav aria-label="Identity providers"><ul><li>/, 'a labelled list of links');
  t.equal((await svc.app.inject({ url: '/saml/login' })).statusCode, 400, 'a program naming no IdP');
  t.equal((await svc.app.inject({ url: '/saml/login' })).json().error, 'idp_required');
  const unknown = await svc.app.inject({ url: '/saml/login?idp=elsewhere', headers: { accept: HTML } });
  t.equal(unknown.statusCode, 400);
  t.match(unknown.body, /sign-in provider this service does not know/);
  t.equal(await svc.app.inject({ url: '/saml/login?idp=elsewhere' }).then((r) => r.json().error), 'unknown_idp');
});

t.test('refused: a request sent to one IdP answered by the other; cross-IdP signatures; an unknown IdP', async (t) => {
  const { db, svc } = await service(t, await idpsFile(hospitalYaml + clinicYaml));
  const toClinic = await startLogin(svc, 'idp=clinic');
  // The hospital (a configured IdP, its own valid signature) answers the clinic's request: not this browser's sign-in.
  const swapped = await finish(svc, toClinic, (await respond(hospitalKey, IDP_ISSUER, toClinic.requestId)).samlResponse);
  t.equal(swapped.statusCode, 401);
  t.equal(svc.logs.find((l) => l.event === 'saml_refused' && l.reason === 'idp_mismatch' && l.idp === IDP_ISSUER).length, 1);
  t.ok(await db.kysely.selectFrom('saml_requests').select('request_id').where('request_id', '=', toClinic.requestId).executeTakeFirst(), 'the clinic\'s request stays outstanding');

  const rows: [string, KeyPair, string, string][] = [
    ['the hospital\'s Issuer, the clinic\'s key', clinicKey, IDP_ISSUER, 'cross_idp_signature'],
    ['the clinic\'s Issuer, the hospital\'s key', hospitalKey, CLINIC, 'cross_idp_signature'],
    ['an Issuer no one configured', hospitalKey, 'https://evil.example/idp', 'unknown_idp'],
  ];
  for (const [name, key, issuer, reason] of rows) {
    const login = await startLogin(svc, 'idp=hospital');
    const res = await finish(svc, login, (await respond(key, issuer, login.requestId, 'mallory@example.com')).samlResponse);
    t.equal(res.statusCode, 401, name);
    t.equal(svc.logs.find((l) => l.event === 'saml_refused' && l.reason === reason).length >= 1, true, `${name}: ${reason}`);
  }
  t.equal(await db.kysely.selectFrom('issued_tokens').select('jti').execute().then((r) => r.length), 0, 'no token issued');
  const counted = await signIns(svc);
  t.match(counted, /saml_sign_ins_total\{idp="none",result="refused"\} 1/, 'the unknown IdP is counted as none');
  t.notMatch(counted, /evil/, 'no label value from a document');
});

t.test('the IdP file: problems refused at start (one line each), not with the single-IdP variables, and hot reload', async (t) => {
  const base = { DATABASE_URL: 'postgres://x@127.0.0.1/x', SAML_SP_ENTITY_ID: SP_ENTITY, SAML_ACS_URL: ACS_URL, JWT_PRIVATE_KEY: '', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' };
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadTokenServiceConfig({ ...base, ...env });
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.problems.filter((p) => p.startsWith('SAML_'));
    }
  };
  const bad = await idpsFile(`${hospitalYaml}- name: Clinic!\n  entityId: ${IDP_ISSUER}\n  certificates: nope\n  colour: blue\n`);
  const lines = problems({ SAML_IDPS_FILE: bad });
  t.ok(lines.length >= 4, `several problems at once:\n${lines.join('\n')}`);
  t.ok(lines.some((l) => /entityId: duplicate of idp #1/.test(l)), 'the duplicate entity id too, though the name is bad as well');
  t.ok(lines.every((l) => l.startsWith(`SAML_IDPS_FILE: ${bad}: `)), 'each names the variable and the file');
  t.same(problems({ SAML_IDPS_FILE: await idpsFile(hospitalYaml), SAML_IDP_CERT: hospitalKey.cert }),
    ['SAML_IDPS_FILE: set either SAML_IDPS_FILE or the single-IdP variables (SAML_IDP_CERT), not both']);
  t.same(problems({ SAML_IDPS_FILE: join(dir, 'missing.yaml') }), [`SAML_IDPS_FILE: cannot read ${join(dir, 'missing.yaml')} (ENOENT)`]);

  // Hot reload: the clinic is added, then a bad edit is refused (the last good list stays), then it is removed.
  const file = await idpsFile(hospitalYaml);
  const { db, svc } = await service(t, file, { SAML_IDPS_RELOAD_SECONDS: '1' });
  const clinicLogin = () => svc.app.inject({ url: '/saml/login?idp=clinic' }).then((r) => r.statusCode);
  const eventually = async (want: number, what: string) => {
    const until = Date.now() + 8000;
    let got = await clinicLogin();
    while (got !== want && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      got = await clinicLogin();
    }
    t.equal(got, want, what);
  };
  t.equal(await clinicLogin(), 400, 'the clinic is not configured yet');
  await writeFile(file, hospitalYaml + clinicYaml);
  await eventually(302, 'the clinic, added to the file, signs in without a restart');

  const login = await startLogin(svc, 'idp=clinic');
  const signedIn = await finish(svc, login, (await respond(clinicKey, CLINIC, login.requestId)).samlResponse);
  const secret = [signedIn.headers['set-cookie'] ?? []].flat().map(String).find((c) => c.startsWith('__Host-saml_authz_session='))!.split(';', 1)[0]!;

  await writeFile(file, `${hospitalYaml}${clinicYaml}  colour: blue\n`);
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(await clinicLogin(), 302, 'a bad edit is refused: the last good list stays');
  t.ok(svc.logs.find((l) => /IdP file reload refused/.test(String(l.msg))).length >= 1, 'and the refusal is logged');

  await writeFile(file, hospitalYaml);
  await eventually(400, 'the clinic, removed from the file, can no longer start a sign-in');
  const renewal = await svc.app.inject({ url: `/saml/login?rd=${encodeURIComponent(RD)}`, headers: { accept: HTML, cookie: secret } });
  t.equal(renewal.statusCode, 302, 'its session is not renewed: the browser signs in again (at the only IdP left)');
  const ended = await db.kysely.selectFrom('sessions').select(['end_reason']).where('idp_issuer', '=', CLINIC).executeTakeFirstOrThrow();
  t.equal(ended.end_reason, 'idp_removed', 'the session of a removed IdP is ended, its tokens revoked');
});

t.test('Single Logout per IdP: each IdP ends only its own sessions, answers only its own logout requests', async (t) => {
  const sp = await generateSpEncryptionKeys('saml-authz test SP signing');
  const withSlo = (yaml: string, host: string) => `${yaml}  sloUrl: https://${host}/slo\n`;
  const file = await idpsFile(withSlo(hospitalYaml, 'idp.hospital.example') + withSlo(clinicYaml, 'idp.clinic.example'));
  const { db, svc } = await service(t, file, { SAML_SP_SIGNING_KEY: sp.key, SAML_SP_SIGNING_CERT: sp.cert });
  const sloUrl = 'https://auth.test.example/saml/slo';
  // alice signed in at both IdPs (the same NameID at two IdPs is two people as far as SAML goes).
  const sessionAt = async (idpIssuer: string) => {
    const sid = crypto.randomUUID();
    const now = Date.now();
    await insertSession(db.kysely, {
      sid, secretHash: Buffer.from(sid), subject: 'alice@example.com', email: 'alice@example.com', groups: [], idpIssuer, sessionIndex: null,
      nameIdFormat: null, clientAddress: null, createdAt: new Date(now - 1000), idleExpiresAt: new Date(now + 600_000), expiresAt: new Date(now + 3_600_000),
    });
    return sid;
  };
  const ended = async (sid: string) => (await db.kysely.selectFrom('sessions').select('end_reason').where('sid', '=', sid).executeTakeFirstOrThrow()).end_reason;
  const atHospital = await sessionAt(IDP_ISSUER);
  const atClinic = await sessionAt(CLINIC);
  const logoutFrom = (issuer: string, key: KeyPair) =>
    svc.app.inject({ url: `/saml/slo?${redirectQuery('SAMLRequest', logoutRequestXml({ issuer, destination: sloUrl, nameId: 'alice@example.com' }).xml, key.key)}`, headers: { accept: HTML } });

  const forged = await logoutFrom(IDP_ISSUER, clinicKey);
  t.equal(forged.statusCode, 403, "a LogoutRequest naming the hospital, signed with the clinic's key");
  t.equal(svc.logs.find((l) => l.msg === 'SAML logout message refused' && l.reason === 'bad_signature').length, 1, "checked with the hospital's certificates only");
  t.equal(await ended(atHospital), null, 'nothing ended');
  t.equal((await logoutFrom('https://evil.example/idp', clinicKey)).statusCode, 403, 'an Issuer no configured IdP has');
  t.equal(svc.logs.find((l) => l.msg === 'SAML logout message refused' && l.reason === 'wrong_issuer').length, 1);

  const fromClinic = await logoutFrom(CLINIC, clinicKey);
  t.equal(fromClinic.statusCode, 302);
  t.equal(new URL(String(fromClinic.headers.location)).host, 'idp.clinic.example', "answered at the clinic's SLO URL");
  t.equal(await ended(atClinic), 'idp_logout', "the clinic's session ended");
  t.equal(await ended(atHospital), null, "the hospital's session of the same NameID lives on");
  // A query whose base64 keeps its `+` unencoded (the binding allows it; `+` is not a space in base64): the
  // Issuer is still read to choose the clinic, as the signature check reads the message.
  let plain: string;
  do plain = deflateRawSync(Buffer.from(logoutRequestXml({ issuer: CLINIC, destination: sloUrl, nameId: 'alice@example.com' }).xml)).toString('base64');
  while (!plain.includes('+'));
  const signedPart = `SAMLRequest=${plain.replace(/\//g, '%2F').replace(/=/g, '%3D')}&SigAlg=${encodeURIComponent(RSA_SHA256)}`;
  const signature = encodeURIComponent(sign('sha256', Buffer.from(signedPart), createPrivateKey(clinicKey.key)).toString('base64'));
  const rawPlus = await svc.app.inject({ url: `/saml/slo?${signedPart}&Signature=${signature}`, headers: { accept: HTML } });
  t.equal(rawPlus.statusCode, 302, 'a raw + in the message: verified with the clinic\'s key');

  // SP-initiated: our LogoutRequest goes to the clinic; only the clinic's LogoutResponse completes it.
  const clinicSettings = withIdp(svc.config.sp, { idpCerts: [clinicKey.cert], idpIssuer: CLINIC, idpSsoUrl: 'https://idp.clinic.example/sso', idpSloUrl: 'https://idp.clinic.example/slo' });
  const url = (await continueWithSingleLogout(db.kysely, clinicSettings, { nameId: 'alice@example.com' }, null))!;
  t.equal(new URL(url).host, 'idp.clinic.example');
  const ours = readSignedRedirect(url.slice(url.indexOf('?') + 1), sp.cert);
  const inResponseTo = /ID="([^"]+)"/.exec(ours.xml)![1]!;
  const answer = (issuer: string, key: KeyPair) =>
    svc.app.inject({ url: `/saml/slo?${redirectQuery('SAMLResponse', logoutResponseXml({ issuer, destination: sloUrl, inResponseTo }).xml, key.key)}`, headers: { accept: HTML } });
  t.equal((await answer(IDP_ISSUER, hospitalKey)).statusCode, 403, 'the hospital cannot complete a logout sent to the clinic');
  t.equal(svc.logs.find((l) => l.msg === 'SAML logout message refused' && l.reason === 'unknown_in_response_to').length, 1);
  t.equal((await answer(CLINIC, clinicKey)).statusCode, 200, 'the clinic can (the signed-out page)');
});

t.test('revoke --idp: every live session and token of one IdP ends; the other IdP\'s users stay signed in', async (t) => {
  const { db, svc } = await service(t, await idpsFile(hospitalYaml + clinicYaml));
  const signIn = async (name: string, key: KeyPair, entityId: string, user: string) => {
    const login = await startLogin(svc, `idp=${name}`);
    const res = await finish(svc, login, (await respond(key, entityId, login.requestId, user)).samlResponse);
    return String(decodeJwt(tokenOf(res)!).jti);
  };
  const hospitalJti = await signIn('hospital', hospitalKey, IDP_ISSUER, 'alice@example.com');
  const clinicJtis = [await signIn('clinic', clinicKey, CLINIC, 'bob@clinic.example'), await signIn('clinic', clinicKey, CLINIC, 'carol@clinic.example')];
  const out: string[] = [];
  const audit = new LogCapture();
  t.equal(await runRevoke(['--idp', CLINIC, '--reason', 'partner contract ended'], { DATABASE_URL: db.url }, (l) => out.push(l), audit), 0);
  t.same(out, [`ended 2 sessions; revoked 2 live tokens of IdP ${CLINIC}`]);
  const revoked = async (jti: string) => (await db.kysely.selectFrom('issued_tokens').select('revoked_reason').where('jti', '=', jti).executeTakeFirstOrThrow()).revoked_reason;
  t.same(await Promise.all(clinicJtis.map(revoked)), ['partner contract ended', 'partner contract ended']);
  t.equal(await revoked(hospitalJti), null, "the hospital's user is untouched");
  t.equal(audit.lines.filter((l) => l.event === 'token_revoked' && l.idp === CLINIC).length, 2, 'audited with the IdP');
  t.equal(await runRevoke(['--idp', CLINIC], { DATABASE_URL: db.url }, (l) => out.push(l)), NOTHING_MATCHED, 'again: nothing left');
});
