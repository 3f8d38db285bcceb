import type { SamlSettings } from '../saml/config.js';
import { ENV_IDP_NAME, type IdpDirectory, type IdpEntry } from './types.js';

/** The single IdP of the SAML_IDP_* variables as a directory entry. */
export function envIdpEntry(idp: SamlSettings): IdpEntry {
  return { name: ENV_IDP_NAME, entityId: idp.idpIssuer, displayName: idp.idpIssuer, settings: idp };
}

/** A directory over a fixed list of IdPs (names and entity ids unique: the caller validated them). */
export function fixedDirectory(entries: readonly IdpEntry[]): IdpDirectory {
  const list = Object.freeze([...entries]);
  const byEntityId = new Map(list.map((e) => [e.entityId, e]));
  const byName = new Map(list.map((e) => [e.name, e]));
  return {
    list: () => list,
    byEntityId: (entityId) => byEntityId.get(entityId),
    byName: (name) => byName.get(name),
  };
}
