import { inflateRawSync } from 'node:zlib';
import t from 'tap';
import { buildLoginRedirect } from '../../../services/token-service/saml/login.js';
import { buildMetadata } from '../../../services/token-service/saml/metadata.js';
import { samlSettings, SamlConfigError } from '../../../services/token-service/saml/config.js';
import { readSignedRedirect } from '../../../services/dev-idp/logout.js';
import { loadTokenServiceConfig } from '../../../services/token-service/config.js';
import { ConfigError } from '../../../services/shared/env.js';
import { NS, attr, children, parseXml } from '../../../services/token-service/saml/xml.js';
import { newSigningKey } from '../../helpers/tokens.js';
import { envIdp } from '../../helpers/token-service.js';
import { ACS, NOW, SP, makeKeys, outcome, settings, signedDoc } from './fixtures.js';

const keys = await makeKeys();
const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
// The "other SP" pair stands for the SP signing key in these tests.
const slo = { spSigningKey: keys.otherSp.key, spSigningCert: keys.otherSp.cert, idpSloUrl: 'https://idp.example.com/slo' };

t.test('metadata with SLO configured: signing and encryption keys, both SLO bindings, the NameID format', async (t) => {
  const sp = parseXml(buildMetadata(settings(keys, slo))).documentElement!;
  const desc = children(sp, MD, 'SPSSODescriptor')[0]!;
  t.equal(attr(desc, 'AuthnRequestsSigned'), 'false', 'AuthnRequests unsigned by default');
  const kds = children(desc, MD, 'KeyDescriptor');
  t.same(kds.map((k) => attr(k, 'use')), ['signing', 'encryption']);
  t.ok(kds[0]!.textContent!.includes(keys.otherSp.cert.replace(/-----[^-]+-----|\s/g, '')), 'the SP signing certificate');
  const services = children(desc, MD, 'SingleLogoutService');
  t.same(services.map((s) => [attr(s, 'Binding'), attr(s, 'Location')]), [
    ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', 'https://auth.test.example/saml/slo'],
    ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'https://auth.test.example/saml/slo'],
  ], 'SAML_SLO_URL defaults to the ACS origin + /saml/slo');
  t.same(children(desc, MD, 'NameIDFormat').map((n) => n.textContent), [EMAIL]);
  const order = [];
  for (let n = desc.firstChild; n !== null; n = n.nextSibling) if (n.nodeType === 1) order.push((n as unknown as { localName: string }).localName);
  t.same(order, ['KeyDescriptor', 'KeyDescriptor', 'SingleLogoutService', 'SingleLogoutService', 'NameIDFormat', 'AssertionConsumerService'], 'schema order');
});

t.test('metadata without SLO: no SingleLogoutService, still the NameID format; a configured format is stated', async (t) => {
  const xml = buildMetadata(settings(keys, { nameIdFormat: PERSISTENT }));
  t.notMatch(xml, /SingleLogoutService/);
  t.match(xml, `<md:NameIDFormat>${PERSISTENT}</md:NameIDFormat>`);
  const signingOnly = buildMetadata(settings(keys, { spSigningKey: slo.spSigningKey, spSigningCert: slo.spSigningCert }));
  t.match(signingOnly, /use="signing"/, 'a signing key alone is published');
  t.notMatch(signingOnly, /SingleLogoutService/, 'but without the IdP SLO URL SLO is off');
  t.match(buildMetadata(settings(keys, { ...slo, sloUrl: 'https://sso.example.com/custom/slo' })), 'Location="https://sso.example.com/custom/slo"');
});

t.test('the AuthnRequest asks for the NameID format with AllowCreate', async (t) => {
  for (const format of [EMAIL, PERSISTENT]) {
    const login = await buildLoginRedirect(settings(keys, { nameIdFormat: format }), undefined, NOW);
    const xml = inflateRawSync(Buffer.from(new URL(login.url).searchParams.get('SAMLRequest')!, 'base64')).toString();
    const policy = children(parseXml(xml).documentElement!, NS.protocol, 'NameIDPolicy')[0];
    t.ok(policy, 'NameIDPolicy present');
    t.equal(policy && attr(policy, 'Format'), format);
    t.equal(policy && attr(policy, 'AllowCreate'), 'true');
    t.equal(new URL(login.url).searchParams.get('Signature'), null, 'unsigned by default');
  }
});

t.test('SAML_SIGN_AUTHN_REQUESTS: the query is signed with the SP key, RelayState included as sent', async (t) => {
  const cfg = settings(keys, { ...slo, signAuthnRequests: true });
  const login = await buildLoginRedirect(cfg, "https://app.example.com/a b?x='(1)!*", NOW);
  const query = login.url.slice(login.url.indexOf('?') + 1);
  const read = readSignedRedirect(query, keys.otherSp.cert);
  t.equal(read.relayState, "https://app.example.com/a b?x='(1)!*");
  t.match(read.xml, `ID="${login.requestId}"`);
  t.throws(() => readSignedRedirect(query, keys.sp.cert), /bad signature/, 'not with another certificate');
  t.match(buildMetadata(cfg), 'AuthnRequestsSigned="true"');
});

t.test('signing settings are checked at start-up, naming the variable', async (t) => {
  const rows: Array<[string, object, string]> = [
    ['key and certificate of different pairs', { spSigningKey: keys.sp.key, spSigningCert: keys.otherSp.cert }, 'spSigningCert'],
    ['a certificate without its key', { spSigningCert: keys.otherSp.cert }, 'spSigningKey'],
    ['a key without its certificate', { spSigningKey: keys.otherSp.key }, 'spSigningCert'],
    ['an IdP SLO URL without the signing key', { idpSloUrl: 'https://idp.example.com/slo' }, 'idpSloUrl'],
    ['signed AuthnRequests without the signing key', { signAuthnRequests: true }, 'signAuthnRequests'],
    ['an EC signing key', { spSigningKey: newSigningKey('ES256').privatePem, spSigningCert: keys.otherSp.cert }, 'spSigningKey'],
    ['a NameID format that is not a URN', { nameIdFormat: 'email' }, 'nameIdFormat'],
    ['an SLO URL that is not http(s)', { ...slo, sloUrl: 'ftp://x/slo' }, 'sloUrl'],
  ];
  for (const [name, over, field] of rows) {
    let field2: string | undefined;
    try {
      settings(keys, over);
    } catch (err) {
      if (err instanceof SamlConfigError) field2 = err.field;
    }
    t.equal(field2, field, `${name}: ${field}`);
  }
  t.ok(samlSettings({ idpCerts: [keys.idp.cert], idpIssuer: 'x', idpSsoUrl: 'https://idp/sso', spEntityId: SP, acsUrl: ACS, ...slo }), 'a matching pair');

  const env = {
    DATABASE_URL: 'postgres://localhost/x', SAML_IDP_CERT: keys.idp.cert, SAML_IDP_ISSUER: 'https://idp', SAML_IDP_SSO_URL: 'https://idp/sso',
    SAML_SP_ENTITY_ID: SP, SAML_ACS_URL: ACS, JWT_PRIVATE_KEY: newSigningKey('ES256').privatePem, JWT_ISSUER: 'https://t', JWT_AUDIENCE: 'a',
  };
  const problems = (over: Record<string, string>): string[] => {
    try {
      loadTokenServiceConfig({ ...env, ...over });
      return [];
    } catch (err) {
      return err instanceof ConfigError ? [...err.problems] : [String(err)];
    }
  };
  t.match(problems({ SAML_SP_SIGNING_KEY: keys.sp.key, SAML_SP_SIGNING_CERT: keys.otherSp.cert }).join('\n'), /^SAML_SP_SIGNING_CERT: .*not the certificate of the SP signing key/);
  t.match(problems({ SAML_IDP_SLO_URL: 'https://idp/slo' }).join('\n'), /^SAML_IDP_SLO_URL: /);
  t.match(problems({ SAML_SP_SIGNING_KEY: 'nope' }).join('\n'), /^SAML_SP_SIGNING_KEY: expected one PEM private key/);
  t.match(problems({ SAML_ALLOW_TRANSIENT_NAMEID: 'maybe' }).join('\n'), /^SAML_ALLOW_TRANSIENT_NAMEID: /);
  const ok = loadTokenServiceConfig({ ...env, SAML_SP_SIGNING_KEY: keys.otherSp.key, SAML_SP_SIGNING_CERT: keys.otherSp.cert, SAML_IDP_SLO_URL: 'https://idp/slo', SAML_SLO_URL: 'https://sso.example/saml/slo' });
  t.equal(envIdp(ok).sloUrl, 'https://sso.example/saml/slo');
  t.equal(envIdp(ok).nameIdFormat, EMAIL, 'emailAddress by default');
  t.equal(envIdp(ok).allowTransientNameId, false);
});

t.test('NameID formats: transient refused unless allowed; other stable formats accepted', async (t) => {
  const rows: Array<[string, string | undefined, boolean, string]> = [
    ['transient', TRANSIENT, false, 'transient_name_id'],
    ['transient, opted in', TRANSIENT, true, 'accepted'],
    ['persistent when emailAddress was asked', PERSISTENT, false, 'accepted'],
    ['unspecified', 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified', false, 'accepted'],
    ['emailAddress', EMAIL, false, 'accepted'],
  ];
  for (const [name, format, allow, expected] of rows) {
    const doc = await signedDoc(keys, { ...(format ? { nameIdFormat: format } : {}), nameId: '_25e6b0c4' });
    t.equal(await outcome(doc, settings(keys, { allowTransientNameId: allow })), expected, name);
  }
});
