// Placeholder until the IdP directory (idp-registry branch) is merged.
import type { LiveIdpDirectory } from './types.js';
export async function startIdpDirectory(_opts: { file?: string; [k: string]: unknown }): Promise<LiveIdpDirectory> {
  throw new Error('SAML_IDPS_FILE is not supported yet');
}
