import t from 'tap';
import { validateSamlResponse } from '../../../services/token-service/saml/validate.js';
import { ACS, IDP, NOW, SP, makeKeys, outcome, settings } from './fixtures.js';
import { independentlySigned, type IndependentDoc } from './independent-signer.js';

// The same classes (issue 12 items 3 and 10) with documents from a second signer that shares no code
// with the dev IdP (node:crypto, hand-canonical XML, saml2 prefixes, default-namespace Signature).
const keys = await makeKeys();
const base: IndependentDoc = {
  idp: keys.idp,
  issuer: IDP,
  acsUrl: ACS,
  audience: SP,
  now: NOW,
  nameIdText: 'alice@example.com',
  subjectInResponseTo: '_req1',
  responseInResponseTo: '_req1',
  groups: ['developers', 'admins'],
};

t.test('documents from an independent signer: only signed data decides, NameIDs have one spelling', async (t) => {
  const rows: { name: string; doc: Partial<IndependentDoc>; allowIdpInitiated?: boolean; outcome: string; nameId?: string; inResponseTo?: string | null }[] = [
    { name: 'SP-initiated, assertion signed', doc: {}, outcome: 'accepted', nameId: 'alice@example.com', inResponseTo: '_req1' },
    { name: 'InResponseTo only in the signed confirmation', doc: { responseInResponseTo: null }, outcome: 'accepted', inResponseTo: '_req1' },
    { name: 'unsolicited assertion, request id in the unsigned Response', doc: { subjectInResponseTo: null }, outcome: 'unsolicited_response' },
    { name: 'same, IdP-initiated allowed', doc: { subjectInResponseTo: null }, allowIdpInitiated: true, outcome: 'in_response_to_mismatch' },
    { name: 'unsolicited, IdP-initiated allowed, no claim in the Response', doc: { subjectInResponseTo: null, responseInResponseTo: null }, allowIdpInitiated: true, outcome: 'accepted', inResponseTo: null },
    { name: 'Response names another request', doc: { responseInResponseTo: '_attacker' }, outcome: 'in_response_to_mismatch' },
    { name: 'pretty-printed NameID', doc: { nameIdText: '\n            alice@example.com\n        ' }, outcome: 'accepted', nameId: 'alice@example.com' },
    { name: 'NameID with a zero-width space', doc: { nameIdText: 'alice@example.com\u200b' }, outcome: 'invalid_name_id' },
  ];
  for (const row of rows) {
    const doc = independentlySigned({ ...base, ...row.doc });
    const cfg = settings(keys, { allowIdpInitiated: row.allowIdpInitiated ?? false });
    t.equal(await outcome(doc, cfg), row.outcome, row.name);
    if (row.outcome !== 'accepted') continue;
    const result = await validateSamlResponse(doc, cfg, NOW);
    if (row.nameId !== undefined) t.equal(result.nameId, row.nameId, `${row.name}: sub`);
    if (row.inResponseTo !== undefined) t.equal(result.inResponseTo, row.inResponseTo, `${row.name}: InResponseTo`);
  }
});

t.test('the independent signature is really checked', async (t) => {
  const doc = Buffer.from(independentlySigned(base), 'base64').toString().replace('>admins<', '>root<');
  t.equal(await outcome(Buffer.from(doc).toString('base64'), settings(keys)), 'bad_signature', 'a group changed after signing');
  t.equal(await outcome(independentlySigned({ ...base, idp: keys.otherIdp }), settings(keys)), 'bad_signature', 'signed with a key that is not configured');
});
