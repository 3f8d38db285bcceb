import t from 'tap';
import { fixedDirectory } from '../../../services/token-service/idps/directory.js';
import type { IdpEntry } from '../../../services/token-service/idps/types.js';
import { withIdp, type SamlSettings } from '../../../services/token-service/saml/config.js';
import { SamlRejection } from '../../../services/token-service/saml/reasons.js';
import { validateFromIdps } from '../../../services/token-service/saml/validate.js';
import { NOW, makeKeys, settings, signedDoc, type Keys } from './fixtures.js';

// Two IdPs with different keys (a hospital and a partner clinic): a response is checked against the one
// IdP its assertion names, with that IdP's certificates only.
const CLINIC = 'https://idp.clinic.example/saml';

const keys: Keys = await makeKeys();
const hospital = settings(keys);
const clinic = withIdp(hospital, { idpCerts: [keys.otherIdp.cert], idpIssuer: CLINIC, idpSsoUrl: 'https://idp.clinic.example/sso', allowIdpInitiated: false });
const entry = (name: string, s: SamlSettings | undefined, entityId = s?.idpIssuer ?? ''): IdpEntry => ({ name, entityId, displayName: name, settings: s });
const both = fixedDirectory([entry('hospital', hospital), entry('clinic', clinic)]);

async function outcome(doc: string, idps = both): Promise<string> {
  try {
    const { idp, assertion } = await validateFromIdps(doc, hospital, idps, NOW);
    return `accepted from ${idp.name} as ${assertion.issuer}`;
  } catch (err) {
    if (err instanceof SamlRejection) return `${err.reason}${err.idp ? ` (${err.idp.name})` : ''}`;
    throw err;
  }
}

t.test('each IdP signs in with its own key', async (t) => {
  t.equal(await outcome(await signedDoc(keys)), `accepted from hospital as ${hospital.idpIssuer}`);
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp, issuer: CLINIC })), `accepted from clinic as ${CLINIC}`);
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp, issuer: CLINIC, sign: 'response' })), `accepted from clinic as ${CLINIC}`, 'Response signed only');
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp, issuer: CLINIC, encrypt: { cert: keys.sp.cert } })), `accepted from clinic as ${CLINIC}`, 'encrypted assertion');
});

t.test('cross-IdP forgery: one IdP named, the other one\'s key', async (t) => {
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp })), 'cross_idp_signature (hospital)', "the hospital's Issuer, the clinic's signature");
  t.equal(await outcome(await signedDoc(keys, { issuer: CLINIC })), 'cross_idp_signature (clinic)', "the clinic's Issuer, the hospital's signature");
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp, sign: 'both' })), 'cross_idp_signature (hospital)', 'both signed by the other key');
  t.equal(await outcome(await signedDoc(keys, { issuer: CLINIC, sign: 'response' })), 'cross_idp_signature (clinic)', 'Response signed only');
  // The reason comes from the certificate the signature carries (KeyInfo), never from verifying the
  // document again with every other IdP's keys: without KeyInfo it is a plain bad signature.
  const noKeyInfo = (xml: string) => xml.replace(/<(ds:)?KeyInfo>[\s\S]*?<\/(ds:)?KeyInfo>/g, '');
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp, mutateSigned: noKeyInfo })), 'bad_signature (hospital)', 'the clinic\'s key, no KeyInfo');
  t.equal(await outcome(await signedDoc(keys, { mutateSigned: noKeyInfo })), `accepted from hospital as ${hospital.idpIssuer}`, 'KeyInfo is never needed to verify');
});

t.test('the unsigned Response Issuer never chooses the IdP', async (t) => {
  // The clinic's signed assertion inside a Response that claims the hospital: refused, not accepted from either.
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp, issuer: CLINIC, responseIssuer: hospital.idpIssuer })), 'wrong_issuer (clinic)');
  // The hospital's Issuer only on the Response around an assertion naming an unknown IdP.
  t.equal(await outcome(await signedDoc(keys, { issuer: 'https://evil.example/idp', responseIssuer: hospital.idpIssuer })), 'unknown_idp');
});

t.test('an unknown Issuer, a missing one, an IdP without certificates yet', async (t) => {
  t.equal(await outcome(await signedDoc(keys, { issuer: 'https://evil.example/idp' })), 'unknown_idp');
  const keyless = fixedDirectory([entry('hospital', hospital), entry('clinic', undefined, CLINIC)]);
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp, issuer: CLINIC }), keyless), 'idp_unavailable (clinic)');
  t.equal(await outcome(await signedDoc(keys), keyless), `accepted from hospital as ${hospital.idpIssuer}`, 'the other IdP keeps working');
  // With one IdP configured, every response is checked against it: an unknown Issuer is wrong_issuer, as before.
  const one = fixedDirectory([entry('hospital', hospital)]);
  t.equal(await outcome(await signedDoc(keys, { issuer: 'https://evil.example/idp' }), one), 'wrong_issuer (hospital)');
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp, issuer: CLINIC }), one), 'bad_signature (hospital)', 'the unconfigured key: no cross-IdP claim');
});

t.test('the chosen IdP\'s own settings apply (IdP-initiated allowed for one only)', async (t) => {
  const open = withIdp(hospital, { idpCerts: [keys.otherIdp.cert], idpIssuer: CLINIC, idpSsoUrl: 'https://idp.clinic.example/sso', allowIdpInitiated: true });
  const idps = fixedDirectory([entry('hospital', hospital), entry('clinic', open)]);
  t.equal(await outcome(await signedDoc(keys, { idp: keys.otherIdp, issuer: CLINIC, inResponseTo: null }), idps), `accepted from clinic as ${CLINIC}`);
  t.equal(await outcome(await signedDoc(keys, { inResponseTo: null }), idps), 'unsolicited_response (hospital)');
});
