import t from 'tap';
import { stringify } from 'yaml';
import { SIGNATURE_POLICIES } from '../../../services/token-service/saml/config.js';
import { parseIdpsFile } from '../../../services/token-service/idps/file.js';
import { secureOrLoopback } from '../../../services/shared/secure-url.js';
import { SP, makeCerts, spWithSigning } from './fixtures.js';

const certs = await makeCerts();
const indent = (pem: string) => pem.trim().split(/\r?\n/).map((l) => `      ${l}`).join('\n');

const certIdp = { name: 'clinic', entityId: 'https://clinic.example/idp', certificates: certs.a.cert, ssoUrl: 'https://clinic.example/sso' };
const mdIdp = { name: 'okta', entityId: 'http://www.okta.com/exk1', metadataUrl: 'https://okta.example/app/exk1/sso/saml/metadata' };
const problemsOf = (list: unknown, defaults = {}, sp = SP) => {
  const r = parseIdpsFile(stringify(list), sp, defaults);
  return 'problems' in r ? r.problems : [];
};

t.test('reads a certificate IdP and a metadata IdP from a YAML list', async (t) => {
  const text = `
- name: clinic
  entityId: https://clinic.example/idp
  displayName: Partner clinic
  certificates: |
${indent(certs.a.cert)}
${indent(certs.b.cert)}
  ssoUrl: https://clinic.example/sso
  groupsAttribute: memberOf
  allowIdpInitiated: true
- name: okta
  entityId: http://www.okta.com/exk1
  metadataUrl: https://okta.example/app/exk1/sso/saml/metadata
  metadataRefreshSeconds: 600
`;
  const r = parseIdpsFile(text, SP, { emailAttribute: 'mail', groupsAttribute: 'groups' });
  if (!('entries' in r)) return t.fail(r.problems.join('\n'));
  t.equal(r.entries.length, 2);
  const [clinic, okta] = r.entries;
  t.match(clinic, { name: 'clinic', entityId: 'https://clinic.example/idp', displayName: 'Partner clinic', source: { kind: 'certificates' } });
  t.same(clinic!.settings.idpCerts?.map((p) => p.trim()), [certs.a.cert.trim(), certs.b.cert.trim()].map((p) => p.replace(/\r\n/g, '\n')), 'both certificates, in order');
  t.same({ ...clinic!.settings, idpCerts: undefined }, {
    idpIssuer: 'https://clinic.example/idp', idpSsoUrl: 'https://clinic.example/sso', emailAttribute: 'mail', groupsAttribute: 'memberOf', allowIdpInitiated: true, idpCerts: undefined,
  }, 'the defaults, overridden by the file');
  t.same(okta, {
    name: 'okta', entityId: 'http://www.okta.com/exk1', displayName: 'okta',
    source: { kind: 'metadata', url: 'https://okta.example/app/exk1/sso/saml/metadata', refreshSeconds: 600, timeoutSeconds: 5 },
    settings: { idpIssuer: 'http://www.okta.com/exk1', emailAttribute: 'mail', groupsAttribute: 'groups' },
  }, 'displayName defaults to the name; refresh as given, timeout 5 s by default');
});

t.test('also reads a mapping whose only key is idps', async (t) => {
  const list = parseIdpsFile(stringify([certIdp, mdIdp]), SP, {});
  const mapping = parseIdpsFile(stringify({ idps: [certIdp, mdIdp] }), SP, {});
  t.ok('entries' in list);
  t.same(mapping, list);
  t.same(problemsOf({ idps: [certIdp], rules: [] }), ['unknown top-level key "rules" (the file is a list of IdPs, or a mapping with the one key "idps")']);
});

t.test('the file as a whole', async (t) => {
  t.same(problemsOf([]), ['the IdP list is empty: configure at least one IdP']);
  t.same(problemsOf({ idps: [] }), ['the IdP list is empty: configure at least one IdP']);
  t.same(problemsOf({ idps: 'okta' }), ['the file must be a list of IdPs (or a mapping with an "idps" list)']);
  t.same(problemsOf(null), ['the file must be a list of IdPs (or a mapping with an "idps" list)']);
  t.same(problemsOf(['okta']), ['idp #1: must be a mapping']);
  const r = parseIdpsFile('- name: a\n  name: b\n', SP, {});
  t.ok('problems' in r && r.problems.length === 1 && /^YAML: Map keys must be unique/.test(r.problems[0]!), 'a repeated key is a YAML problem');
  const s = parseIdpsFile('- name: [a\n', SP, {});
  t.ok('problems' in s && s.problems.every((p) => p.startsWith('YAML: ') && !p.includes('\n')), 'a syntax error, one line per problem');
});

const urlRule = 'must be https (plain http only to a loopback address): whoever can answer it chooses the certificates responses are checked with';
/** One row per problem class: the IdP as changed, and the one line expected. */
const rows: [string, Record<string, unknown>, string][] = [
  ['name missing', { ...certIdp, name: undefined }, 'idp #1: name: required'],
  ['name not a short name', { ...certIdp, name: 'Clinic A' }, 'idp #1: name: "Clinic A" must be 1–32 of a-z 0-9 - (starting with a letter or digit)'],
  ['entityId missing', { ...certIdp, entityId: undefined }, 'idp "clinic" (#1): entityId: required'],
  ['entityId empty', { ...certIdp, entityId: '  ' }, 'idp "clinic" (#1): entityId: must be a non-empty string'],
  ['displayName too long', { ...certIdp, displayName: 'x'.repeat(101) }, 'idp "clinic" (#1): displayName: must be at most 100 characters'],
  ['displayName with a control character', { ...certIdp, displayName: 'Clinic\u0007' }, 'idp "clinic" (#1): displayName: must not hold control or invisible characters'],
  ['displayName with a bidi override', { ...certIdp, displayName: 'Clinic\u202e' }, 'idp "clinic" (#1): displayName: must not hold control or invisible characters'],
  ['neither certificates nor metadataUrl', { ...certIdp, certificates: undefined }, 'idp "clinic" (#1): metadataUrl: required: certificates (PEM) or metadataUrl'],
  ['both certificates and metadataUrl', { ...certIdp, metadataUrl: mdIdp.metadataUrl }, 'idp "clinic" (#1): certificates: give either certificates or metadataUrl, not both'],
  ['certificates without PEM', { ...certIdp, certificates: 'MIIB...' }, 'idp "clinic" (#1): certificates: expected one or more PEM certificates (-----BEGIN CERTIFICATE-----)'],
  ['certificates not a text', { ...certIdp, certificates: 42 }, 'idp "clinic" (#1): certificates: must be PEM text (or a list of PEM texts)'],
  ['a certificate that does not parse', { ...certIdp, certificates: [certs.a.cert, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'] }, 'idp "clinic" (#1): certificates[1]: is not an X.509 certificate'],
  ['ssoUrl missing with certificates', { ...certIdp, ssoUrl: undefined }, 'idp "clinic" (#1): ssoUrl: required with certificates (with metadataUrl it comes from the metadata)'],
  ['ssoUrl not a URL', { ...certIdp, ssoUrl: 'clinic.example/sso' }, 'idp "clinic" (#1): ssoUrl: must be an absolute http(s) URL'],
  ['sloUrl without our signing key', { ...certIdp, sloUrl: 'https://clinic.example/slo' }, 'idp "clinic" (#1): sloUrl: needs the SP signing key and certificate (SAML_SP_SIGNING_KEY, SAML_SP_SIGNING_CERT): logout messages are signed'],
  ['metadata keys with certificates', { ...certIdp, metadataTimeoutSeconds: 5 }, 'idp "clinic" (#1): metadataTimeoutSeconds: only with metadataUrl'],
  ['metadataUrl plain http to another host', { ...mdIdp, metadataUrl: 'http://okta.example/metadata' }, `idp "okta" (#1): metadataUrl: ${urlRule}`],
  ['metadataUrl http to a host named like loopback', { ...mdIdp, metadataUrl: 'http://127.0.0.1.nip.io/metadata' }, `idp "okta" (#1): metadataUrl: ${urlRule}`],
  ['metadataUrl not http(s)', { ...mdIdp, metadataUrl: 'file:///etc/metadata.xml' }, 'idp "okta" (#1): metadataUrl: must be an absolute https URL'],
  ['metadataRefreshSeconds too small', { ...mdIdp, metadataRefreshSeconds: 5 }, 'idp "okta" (#1): metadataRefreshSeconds: must be a whole number of seconds from 10 to 86400'],
  ['metadataRefreshSeconds too large', { ...mdIdp, metadataRefreshSeconds: 86_401 }, 'idp "okta" (#1): metadataRefreshSeconds: must be a whole number of seconds from 10 to 86400'],
  ['metadataTimeoutSeconds not whole', { ...mdIdp, metadataTimeoutSeconds: 2.5 }, 'idp "okta" (#1): metadataTimeoutSeconds: must be a whole number of seconds from 1 to 60'],
  ['metadataTimeoutSeconds too large', { ...mdIdp, metadataTimeoutSeconds: 61 }, 'idp "okta" (#1): metadataTimeoutSeconds: must be a whole number of seconds from 1 to 60'],
  ['signaturePolicy unknown', { ...mdIdp, signaturePolicy: 'assertions' }, `idp "okta" (#1): signaturePolicy: must be one of ${SIGNATURE_POLICIES.join(', ')}`],
  ['allowIdpInitiated not a boolean', { ...mdIdp, allowIdpInitiated: 'yes' }, 'idp "okta" (#1): allowIdpInitiated: must be true or false'],
  ['allowTransientNameId not a boolean', { ...mdIdp, allowTransientNameId: 1 }, 'idp "okta" (#1): allowTransientNameId: must be true or false'],
  ['nameIdFormat not a URN', { ...mdIdp, nameIdFormat: 'email' }, 'idp "okta" (#1): nameIdFormat: must be a NameID format URN'],
  ['emailAttribute empty', { ...mdIdp, emailAttribute: '' }, 'idp "okta" (#1): emailAttribute: must be a non-empty string'],
  ['a misspelt key', { ...mdIdp, allowIdpInitated: true }, 'idp "okta" (#1): unknown key "allowIdpInitated" (known: name, displayName, metadataUrl, metadataRefreshSeconds, metadataTimeoutSeconds, entityId, certificates, ssoUrl, sloUrl, emailAttribute, groupsAttribute, nameIdFormat, allowIdpInitiated, allowTransientNameId, signaturePolicy)'],
];

t.test('each problem class is one line naming the IdP and the key', async (t) => {
  for (const [name, idp, line] of rows) t.same(problemsOf([idp]), [line], name);
});

t.test('every problem of every IdP is reported at once', async (t) => {
  t.same(problemsOf([
    { ...certIdp, displayName: '', ssoUrl: undefined },
    { ...mdIdp, name: 'OKTA', metadataRefreshSeconds: 1 },
    { ...mdIdp, entityId: certIdp.entityId },
    { ...mdIdp, name: 'clinic', entityId: 'urn:other', metadataUrl: 'http://[::1]:8080/md' },
  ]), [
    'idp "clinic" (#1): displayName: must be a non-empty string',
    'idp "clinic" (#1): ssoUrl: required with certificates (with metadataUrl it comes from the metadata)',
    'idp #2: name: "OKTA" must be 1–32 of a-z 0-9 - (starting with a letter or digit)',
    'idp #2: metadataRefreshSeconds: must be a whole number of seconds from 10 to 86400',
    'idp "okta" (#3): entityId: duplicate of idp #1 (a response\'s Issuer must name one IdP)',
    'idp "clinic" (#4): name: duplicate of idp #1',
  ], 'duplicates of an IdP that has problems of its own too');
  t.same(problemsOf([certIdp, { ...mdIdp, entityId: certIdp.entityId }, { ...mdIdp, name: 'clinic' }]), [
    'idp "okta" (#2): entityId: duplicate of idp #1 (a response\'s Issuer must name one IdP)',
    'idp "clinic" (#3): name: duplicate of idp #1',
  ]);
});

t.test('a certificate IdP is checked as a response will be checked with it', async (t) => {
  t.same(problemsOf([certIdp], { nameIdFormat: 'emailAddress' }), ['idp "clinic" (#1): nameIdFormat: must be a NameID format URN'], 'a bad default, named by the file key');
  t.same(problemsOf([{ ...certIdp, sloUrl: 'https://clinic.example/slo' }], {}, spWithSigning(certs)), [], 'SLO with our signing key');
});

t.test('metadataUrl: https, or plain http to a loopback address only', async (t) => {
  const cases: [string, boolean][] = [
    ['https://okta.example/md', true], ['http://127.0.0.1:9/md', true], ['http://127.8.9.10/md', true], ['http://localhost:8080/md', true],
    ['http://[::1]/md', true], ['http://10.0.0.1/md', false], ['http://[::2]/md', false], ['http://localhost.example/md', false], ['ftp://127.0.0.1/md', false],
  ];
  for (const [url, ok] of cases) t.equal(secureOrLoopback(url), ok, url);
  t.same(problemsOf([{ ...mdIdp, metadataUrl: 'http://localhost:8080/md' }]), []);
});

t.test('two IdPs sharing a signing key are refused: either could sign as the other', async (t) => {
  const other = { ...certIdp, name: 'partner', entityId: 'https://partner.example/idp' };
  t.same(problemsOf([certIdp, other]), ['idp "partner": certificates: its signing key is also idp "clinic"\'s (two IdPs must not share a key: either could sign as the other)']);
  t.same(problemsOf([certIdp, { ...other, certificates: certs.b.cert }]), [], 'different keys');
  t.same(problemsOf([{ ...certIdp, certificates: [certs.a.cert, certs.a.cert] }]), [], 'one IdP listing its own key twice is not sharing');
});
