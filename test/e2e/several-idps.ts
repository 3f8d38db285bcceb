/**
 * Two identity providers for a stack (StackOptions.devIdp.partner): a second development IdP with its own
 * key and entity id, and the SAML_IDPS_FILE that lists both — as an operator configures a hospital's
 * own IdP and a partner clinic's.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildDevIdp } from '../../services/dev-idp/app.js';
import { generateIdpKeys, type KeyPair } from '../../services/dev-idp/keys.js';

/** The partner IdP's entity id and the names both IdPs have in the file. */
export const PARTNER_ISSUER = 'https://idp.clinic.example/saml';
export const OWN_IDP_NAME = 'hospital';
export const PARTNER_IDP_NAME = 'clinic';
export const PARTNER_DISPLAY_NAME = 'Riverside Clinic';

export interface PartnerIdp {
  url: string;
  keys: KeyPair;
  close(): Promise<void>;
}

/** The partner's development IdP on `host` (the name the browser maps to 127.0.0.1). */
export async function startPartnerIdp(o: { host: string; listenHost: string; base: string; user?: { nameId: string; email: string; groups: readonly string[] } }): Promise<PartnerIdp> {
  const keys = await generateIdpKeys('partner dev IdP');
  const app = await buildDevIdp({
    idp: keys,
    issuer: PARTNER_ISSUER,
    acsUrl: `${o.base}/saml/acs`,
    spEntityId: `${o.base}/saml/metadata`,
    ...(o.user ? { defaultUser: o.user } : {}),
  });
  await app.listen({ host: o.listenHost, port: 0 });
  return { url: `http://${o.host}:${(app.server.address() as AddressInfo).port}`, keys, close: () => app.close() };
}

/** SAML_IDPS_FILE listing our IdP (`own`) and the partner's, written to a new temporary folder. */
export async function writeIdpsFile(own: { issuer: string; cert: string; url: string; slo: boolean }, partner: PartnerIdp): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'idps-')), 'idps.yaml');
  await writeFile(file, stringify([
    { name: OWN_IDP_NAME, entityId: own.issuer, displayName: 'St Mary\'s Hospital', certificates: own.cert, ssoUrl: `${own.url}/sso`, ...(own.slo ? { sloUrl: `${own.url}/slo` } : {}) },
    { name: PARTNER_IDP_NAME, entityId: PARTNER_ISSUER, displayName: PARTNER_DISPLAY_NAME, certificates: partner.keys.cert, ssoUrl: `${partner.url}/sso` },
  ]));
  return file;
}
