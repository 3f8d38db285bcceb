import { inflateRawSync } from 'node:zlib';
import t from 'tap';
import { buildLoginRedirect } from '../../../services/token-service/saml/login.js';
import { buildMetadata } from '../../../services/token-service/saml/metadata.js';
import { NS, attr, children, parseXml } from '../../../services/token-service/saml/xml.js';
import { ACS, NOW, SP, makeKeys, settings } from './fixtures.js';

const keys = await makeKeys();
const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';

t.test('login redirect carries a deflated AuthnRequest whose id is returned', async (t) => {
  const cfg = settings(keys);
  const login = await buildLoginRedirect(cfg, 'https://app.example.com/after?x=1', NOW);
  const url = new URL(login.url);
  t.equal(`${url.origin}${url.pathname}`, cfg.idpSsoUrl);
  t.equal(url.searchParams.get('RelayState'), 'https://app.example.com/after?x=1');
  const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
  const request = parseXml(xml).documentElement;
  t.equal(request?.localName, 'AuthnRequest');
  t.equal(request && attr(request, 'ID'), login.requestId);
  t.match(login.requestId, /^_[0-9a-f]{40}$/);
  t.equal(request && attr(request, 'AssertionConsumerServiceURL'), ACS);
  t.equal(request && attr(request, 'ProtocolBinding'), 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
  t.equal(request && attr(request, 'Destination'), cfg.idpSsoUrl);
  t.equal(request && children(request, NS.assertion, 'Issuer')[0]?.textContent, SP);
  t.same(login.expiresAt, new Date(NOW.getTime() + 300_000));
  const again = await buildLoginRedirect(cfg);
  t.not(again.requestId, login.requestId, 'a fresh id each time');
  t.equal(new URL(again.url).searchParams.get('RelayState'), null, 'no RelayState when none is given');
});

t.test('metadata names the entity, the POST ACS and wants signed assertions', async (t) => {
  const md = parseXml(buildMetadata(settings(keys))).documentElement;
  t.equal(md && attr(md, 'entityID'), SP);
  const sp = md && children(md, MD, 'SPSSODescriptor')[0];
  t.ok(sp);
  if (!sp) return;
  t.equal(attr(sp, 'WantAssertionsSigned'), 'true');
  const acs = children(sp, MD, 'AssertionConsumerService');
  t.equal(acs.length, 1);
  t.equal(acs[0] && attr(acs[0], 'Location'), ACS);
  t.equal(acs[0] && attr(acs[0], 'Binding'), 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
  const keyDescriptors = children(sp, MD, 'KeyDescriptor');
  t.same(keyDescriptors.map((k) => attr(k, 'use')), ['encryption']);
  const certBody = keys.sp.cert.replace(/-----[^-]+-----|\s/g, '');
  t.ok(keyDescriptors[0]?.textContent?.includes(certBody), 'the SP encryption certificate');
});

t.test('metadata leaves the encryption key out without a decryption key, escapes values', async (t) => {
  const xml = buildMetadata(settings(keys, { decryptionKey: undefined, spEntityId: 'urn:sp:"a"&b' }));
  const md = parseXml(xml).documentElement;
  t.equal(md && attr(md, 'entityID'), 'urn:sp:"a"&b');
  t.notMatch(xml, /KeyDescriptor/);
});
