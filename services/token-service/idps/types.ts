import type { IdpSettingsInput, SamlSettings } from '../saml/config.js';

/** An IdP's short name: `/saml/login?idp=`, the metrics label `idp`, the chooser page's links. */
export const IDP_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** The name of the one IdP the single-IdP variables (SAML_IDP_*) describe. */
export const ENV_IDP_NAME = 'default';

/** Where an IdP's certificates and URLs come from. */
export type IdpSource =
  | { kind: 'certificates' }
  | { kind: 'metadata'; url: string; refreshSeconds: number; timeoutSeconds: number };

/** One IdP as read from SAML_IDPS_FILE, validated (idps/file.ts). */
export interface IdpFileEntry {
  readonly name: string;
  readonly entityId: string;
  readonly displayName: string;
  readonly source: IdpSource;
  /**
   * The IdP fields the file gives, over the SAML_* defaults. With a metadata source, `idpCerts`,
   * `idpSsoUrl` and `idpSloUrl` come from the metadata unless the file gives them.
   */
  readonly settings: Partial<IdpSettingsInput>;
}

/** One configured IdP as the routes see it. */
export interface IdpEntry {
  readonly name: string;
  /** Its entity id: the Issuer of its assertions and the token's `idp` claim. */
  readonly entityId: string;
  readonly displayName: string;
  /**
   * Ours and its settings merged; undefined while its metadata has never been fetched (then it is
   * not usable: a login to it is refused with 503, a response naming it `idp_unavailable`).
   */
  readonly settings: SamlSettings | undefined;
}

/** The configured IdPs (file order). Read per request: a reload swaps what these return. */
export interface IdpDirectory {
  list(): readonly IdpEntry[];
  byEntityId(entityId: string): IdpEntry | undefined;
  byName(name: string): IdpEntry | undefined;
}

/** A directory that reloads its file and refreshes metadata until closed. */
export interface LiveIdpDirectory extends IdpDirectory {
  close(): Promise<void>;
}

/**
 * The directory `startIdpDirectory` returns (idps/live.ts): also lets a caller (a test, an admin
 * command) check the file and fetch metadata now instead of at the next tick.
 */
export interface ManagedIdpDirectory extends LiveIdpDirectory {
  /** Fetches the metadata of this IdP (a metadata one), or of every metadata IdP; resolves when applied or failed. */
  refreshMetadata(name?: string): Promise<void>;
  /** Reloads the file if it changed; resolves true when a new list is in force (its new metadata fetched). */
  reloadFile(): Promise<boolean>;
}
