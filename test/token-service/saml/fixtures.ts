import { generateIdpKeys, generateSpEncryptionKeys, type KeyPair } from '../../../services/dev-idp/keys.js';
import { signSamlResponse, type SignSamlResponseOptions } from '../../../services/dev-idp/sign.js';
import { samlSettings, type SamlSettings, type SamlSettingsInput } from '../../../services/token-service/saml/config.js';
import { SamlRejection } from '../../../services/token-service/saml/reasons.js';
import { validateSamlResponse } from '../../../services/token-service/saml/validate.js';
import { ACS_URL, IDP_ISSUER, SP_ENTITY } from '../../helpers/idp-sp.js';

export const NOW = new Date('2030-01-15T12:00:00Z');
/** The IdP and SP of every test (one definition, in test/helpers). */
export const IDP = IDP_ISSUER;
export const SP = SP_ENTITY;
export const ACS = ACS_URL;

export interface Keys {
  idp: KeyPair;
  otherIdp: KeyPair;
  sp: KeyPair;
  otherSp: KeyPair;
}

export async function makeKeys(): Promise<Keys> {
  const [idp, otherIdp, sp, otherSp] = await Promise.all([generateIdpKeys(), generateIdpKeys('another IdP'), generateSpEncryptionKeys(), generateSpEncryptionKeys('another SP')]);
  return { idp, otherIdp, sp, otherSp };
}

export function settings(keys: Keys, over: Partial<SamlSettingsInput> = {}): SamlSettings {
  return samlSettings({
    idpCerts: [keys.idp.cert],
    idpIssuer: IDP,
    idpSsoUrl: 'https://idp.example.com/app/sso/saml',
    spEntityId: SP,
    acsUrl: ACS,
    decryptionKey: keys.sp.key,
    spDecryptionCert: keys.sp.cert,
    allowIdpInitiated: false,
    ...over,
  });
}

export type DocOptions = Partial<SignSamlResponseOptions>;

/** A signed response for `settings(keys)`: SP-initiated (InResponseTo _req1), assertion signed, at NOW. */
export async function signedDoc(keys: Keys, over: DocOptions = {}): Promise<string> {
  const signed = await signSamlResponse({
    idp: keys.idp,
    issuer: IDP,
    acsUrl: ACS,
    audience: SP,
    now: NOW,
    inResponseTo: '_req1',
    email: 'alice@example.com',
    groups: ['developers', 'admins'],
    ...over,
  });
  return signed.samlResponse;
}

/** The reason a response is refused with, or 'accepted'. */
export async function outcome(doc: string, cfg: SamlSettings, now = NOW): Promise<string> {
  try {
    await validateSamlResponse(doc, cfg, now);
    return 'accepted';
  } catch (err) {
    if (err instanceof SamlRejection) return err.reason;
    throw err;
  }
}

export const b64 = (xml: string | Buffer): string => Buffer.from(xml).toString('base64');
export const minutes = (n: number): Date => new Date(NOW.getTime() + n * 60_000);
