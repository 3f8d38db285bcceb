import t from 'tap';
import { METADATA_MAX_BYTES, fetchIdpMetadata, parseIdpMetadata } from '../../../services/token-service/idps/metadata.js';
import { closedPort, entityXml, fingerprint, makeCerts, metadataServer, metadataXml } from './fixtures.js';

const certs = await makeCerts();
const ENTITY = 'http://www.okta.com/exk1';
const PEM = /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/;

const failure = (fn: () => unknown): string => {
  try {
    fn();
    return 'parsed';
  } catch (err) {
    return (err as Error).message;
  }
};

t.test('reads the signing certificates and the HTTP-Redirect endpoints', async (t) => {
  const md = parseIdpMetadata(metadataXml(ENTITY, {
    signing: [certs.a.cert], anyUse: [certs.b.cert], encryption: [certs.c.cert],
    sso: 'https://okta.example/sso/redirect', slo: 'https://okta.example/slo/redirect',
  }), ENTITY);
  t.same(md.certs.map(fingerprint), [fingerprint(certs.a.cert), fingerprint(certs.b.cert)], 'signing and no-use keys; the encryption key is not one');
  for (const pem of md.certs) t.match(pem, PEM, 'PEM-wrapped at 64 characters');
  t.equal(md.ssoUrl, 'https://okta.example/sso/redirect', 'the HTTP-Redirect binding, not the POST one');
  t.equal(md.sloUrl, 'https://okta.example/slo/redirect');
});

t.test('a certificate listed twice is kept once; no SLO endpoint is no sloUrl', async (t) => {
  const md = parseIdpMetadata(metadataXml(ENTITY, { signing: [certs.a.cert], anyUse: [certs.a.cert] }), ENTITY);
  t.same(md.certs.map(fingerprint), [fingerprint(certs.a.cert)]);
  t.equal(md.sloUrl, undefined);
  t.notOk('sloUrl' in md);
});

t.test('picks the configured entity out of an EntitiesDescriptor', async (t) => {
  const aggregate = `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
  ${entityXml('urn:other', { signing: [certs.b.cert] }, '')}
  <md:EntitiesDescriptor Name="nested">${entityXml(ENTITY, { signing: [certs.a.cert] }, '')}</md:EntitiesDescriptor>
</md:EntitiesDescriptor>`;
  t.same(parseIdpMetadata(aggregate, ENTITY).certs.map(fingerprint), [fingerprint(certs.a.cert)]);
  t.same(parseIdpMetadata(aggregate, 'urn:other').certs.map(fingerprint), [fingerprint(certs.b.cert)]);
  t.equal(failure(() => parseIdpMetadata(aggregate, 'urn:third')), 'IdP metadata: no EntityDescriptor with entityID "urn:third" in the EntitiesDescriptor');
});

const refused: [string, string, string][] = [
  ['another entity', metadataXml('urn:someone-else', { signing: [certs.a.cert] }), 'IdP metadata: entityID is "urn:someone-else", not the configured "http://www.okta.com/exk1"'],
  ['a DOCTYPE', `<!DOCTYPE md [<!ENTITY x "y">]>${metadataXml(ENTITY, { signing: [certs.a.cert] }).replace(/^<\?xml[^>]*>/, '')}`, 'IdP metadata: contains a DOCTYPE or ENTITY declaration'],
  ['no certificate', metadataXml(ENTITY), 'IdP metadata: no signing certificate (KeyDescriptor use="signing" or without use, with an X509Certificate)'],
  ['only an encryption certificate', metadataXml(ENTITY, { encryption: [certs.a.cert] }), 'IdP metadata: no signing certificate (KeyDescriptor use="signing" or without use, with an X509Certificate)'],
  ['a certificate that is not one', metadataXml(ENTITY, { signing: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'] }), 'IdP metadata: an X509Certificate does not parse as an X.509 certificate'],
  ['expired metadata', metadataXml(ENTITY, { signing: [certs.a.cert], validUntil: '2020-01-01T00:00:00Z' }), 'IdP metadata: EntityDescriptor validUntil 2020-01-01T00:00:00.000Z has passed'],
  ['not metadata', '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>', 'IdP metadata: not an md:EntityDescriptor or md:EntitiesDescriptor'],
  ['an SP, not an IdP', metadataXml(ENTITY, { signing: [certs.a.cert] }).replace(/IDPSSODescriptor/g, 'SPSSODescriptor'), 'IdP metadata: EntityDescriptor "http://www.okta.com/exk1" has no IDPSSODescriptor for SAML 2.0'],
  ['an SSO Location that is not a URL', metadataXml(ENTITY, { signing: [certs.a.cert], sso: 'javascript:alert(1)' }), 'IdP metadata: SingleSignOnService (HTTP-Redirect) Location is not an absolute http(s) URL'],
  ['more than 1 MB', metadataXml(ENTITY, { signing: [certs.a.cert] }).replace('<md:NameIDFormat>', `<!--${'x'.repeat(METADATA_MAX_BYTES)}--><md:NameIDFormat>`), `IdP metadata: larger than ${METADATA_MAX_BYTES} bytes`],
];

t.test('refuses metadata it cannot trust or use, with one line saying why', async (t) => {
  for (const [name, xml, message] of refused) t.equal(failure(() => parseIdpMetadata(xml, ENTITY)), message, name);
  const broken = failure(() => parseIdpMetadata('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">', ENTITY));
  t.match(broken, /^IdP metadata: metadata is not well-formed XML/);
  t.notMatch(broken, /\n/, 'one line');
});

t.test('fetchIdpMetadata', async (t) => {
  const server = await metadataServer();
  t.teardown(() => server.close());
  const body = metadataXml(ENTITY, { signing: [certs.a.cert] });
  server.set('/ok', { body });
  server.set('/moved', { status: 302, headers: { location: server.url('/ok') } });
  server.set('/gone', { status: 404 });
  server.set('/big', { body: 'x'.repeat(2000) });
  server.set('/stream', { streamBytes: 4 * 1024 * 1024 });
  server.set('/hang', { hang: true });

  t.equal(await fetchIdpMetadata(server.url('/ok'), { timeoutMs: 2000 }), body, 'a 200 answer is the document');
  const rejects = async (url: string, opts: { timeoutMs: number; maxBytes?: number }, message: string | RegExp, name: string) => {
    const result = await fetchIdpMetadata(url, opts).then(() => 'fetched', (err: Error) => err.message);
    t.match(result, message, name);
  };
  await rejects(server.url('/moved'), { timeoutMs: 2000 }, `IdP metadata: ${server.url('/moved')} answered a redirect (302); redirects are refused, configure the final URL`, 'a redirect is not followed');
  t.equal(server.hits('/ok'), 1, 'the redirect target was never asked');
  await rejects(server.url('/gone'), { timeoutMs: 2000 }, `IdP metadata: ${server.url('/gone')} answered 404`, 'a status other than 200');
  await rejects(server.url('/big'), { timeoutMs: 2000, maxBytes: 1000 }, `IdP metadata: ${server.url('/big')} is larger than 1000 bytes`, 'a content-length over the cap');
  await rejects(server.url('/stream'), { timeoutMs: 5000 }, `IdP metadata: ${server.url('/stream')} is larger than ${METADATA_MAX_BYTES} bytes`, 'a body without a length, cut off at the cap');
  const started = Date.now();
  await rejects(server.url('/hang'), { timeoutMs: 300 }, `IdP metadata: ${server.url('/hang')} did not answer within 300 ms`, 'a server that never answers');
  t.ok(Date.now() - started < 2000, 'given up at the timeout');
  const port = await closedPort();
  await rejects(`http://127.0.0.1:${port}/md`, { timeoutMs: 2000 }, /^IdP metadata: http:\/\/127\.0\.0\.1:\d+\/md could not be fetched \(ECONNREFUSED\)$/, 'nothing listening');
});
