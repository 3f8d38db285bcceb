/**
 * One IdP whose certificates come from its metadata URL (idps/live.ts keeps one per such IdP of the
 * file): fetched, refused when it shares a signing key with another configured IdP, merged with the
 * file's settings, refreshed every `metadataRefreshSeconds` and, after a failure, retried every
 * min(refresh, 30 s). A failed refresh keeps the last good metadata, never past its validUntil.
 */
import { X509Certificate } from 'node:crypto';
import { SamlConfigError, withIdp, type IdpSettingsInput, type SamlSettings, type SpSettings } from '../saml/config.js';
import type { Log } from '../../shared/log.js';
import { sharedKeyProblems } from './keys.js';
import { fetchIdpMetadata, parseIdpMetadata, type IdpMetadata } from './metadata.js';
import type { IdpMetrics } from './metrics.js';
import type { IdpFileEntry } from './types.js';

/** A failed metadata fetch is retried at most this long after (sooner when the refresh interval is shorter). */
export const METADATA_RETRY_MAX_SECONDS = 30;

/** One IdP whose certificates come from metadata: its last good copy and its refresh timer. */
export interface MetadataIdp {
  entry: IdpFileEntry & { source: { kind: 'metadata' } };
  md?: IdpMetadata;
  settings?: SamlSettings;
  lastOk: boolean;
  lastSuccessMs?: number;
  timer?: NodeJS.Timeout;
  queue: Promise<void>;
  dropped: boolean;
}

/** What a metadata IdP needs from the directory that holds it. */
export interface MetadataHost {
  sp: SpSettings;
  log: Log;
  metrics?: IdpMetrics | undefined;
  /** Aborted when the directory closes: a fetch under way stops. */
  signal: AbortSignal;
  /** The certificates every other configured IdP verifies with now. */
  othersCerts(name: string): { name: string; certs: readonly string[] }[];
  /** Puts the IdPs' current settings in force (called when one IdP's changed). */
  rebuild(): void;
}

export type MetadataEntry = MetadataIdp['entry'];
export const isMetadata = (e: IdpFileEntry): e is MetadataEntry => e.source.kind === 'metadata';
const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

/** The IdP's settings from the file and this metadata; false (and logged) when they do not validate. */
export function settleMetadataIdp(m: MetadataIdp, md: IdpMetadata, host: MetadataHost): boolean {
  try {
    m.settings = merge(host.sp, m.entry, md);
    return true;
  } catch (err) {
    m.settings = undefined;
    host.log.error({ idp: m.entry.name, url: m.entry.source.url, error: (err as Error).message }, 'IdP metadata does not give usable settings; the IdP is unavailable');
    return false;
  }
}

/** Fetches now (after any fetch under way), then schedules the next one. */
export function refreshMetadataIdp(m: MetadataIdp, host: MetadataHost): Promise<void> {
  m.queue = m.queue.then(() => fetchOnce(m, host)).then(() => scheduleMetadataIdp(m, host));
  return m.queue;
}

/** The next fetch: after the refresh interval, or sooner after a failure. */
export function scheduleMetadataIdp(m: MetadataIdp, host: MetadataHost): void {
  clearTimeout(m.timer);
  if (m.dropped) return;
  const { refreshSeconds } = m.entry.source;
  const delay = m.lastOk ? refreshSeconds : Math.min(refreshSeconds, METADATA_RETRY_MAX_SECONDS);
  m.timer = setTimeout(() => void refreshMetadataIdp(m, host), delay * 1000);
  m.timer.unref();
}

/** No further fetch; resolves once the one under way (if any) has settled. */
export async function dropMetadataIdp(m: MetadataIdp): Promise<void> {
  m.dropped = true;
  clearTimeout(m.timer);
  await m.queue;
}

async function fetchOnce(m: MetadataIdp, host: MetadataHost): Promise<void> {
  if (m.dropped) return;
  const { name, entityId, source } = m.entry;
  const log = host.log;
  let md: IdpMetadata;
  let settings: SamlSettings;
  try {
    const xml = await fetchIdpMetadata(source.url, { timeoutMs: source.timeoutSeconds * 1000, signal: host.signal });
    md = parseIdpMetadata(xml, entityId);
    // A key another configured IdP signs with is refused like bad metadata (the last good copy stays).
    const shared = sharedKeyProblems([...host.othersCerts(name), { name, certs: md.certs }]);
    if (shared.length > 0) throw new Error(`IdP metadata: ${shared[0]}`);
    settings = merge(host.sp, m.entry, md);
  } catch (err) {
    if (m.dropped) return;
    m.lastOk = false;
    // The last good copy is kept, but never past its own validUntil: then the IdP is unavailable.
    if (m.md?.validUntil !== undefined && m.md.validUntil.getTime() <= Date.now() && m.settings !== undefined) {
      m.settings = undefined;
      log.error({ idp: name, url: source.url, valid_until: m.md.validUntil.toISOString() }, 'IdP metadata expired (validUntil) and could not be fetched again; the IdP is unavailable until it is');
      host.rebuild();
    }
    const fields = { idp: name, url: source.url, error: (err as Error).message };
    if (m.settings !== undefined) log.warn(fields, 'IdP metadata refresh failed; keeping the last good metadata');
    else log.error(fields, 'IdP metadata could not be fetched; the IdP is unavailable until it is');
    host.metrics?.refreshed(name, 'error');
    host.metrics?.state(name, false, m.lastSuccessMs);
    return;
  }
  if (m.dropped) return;
  const before = (m.md?.certs ?? []).map(fingerprint);
  const after = md.certs.map(fingerprint);
  if (m.md === undefined) log.info({ idp: name, url: source.url, certificates: after }, 'IdP metadata loaded');
  else if (before.join() !== after.join()) {
    log.info({ idp: name, certificates: after, added: after.filter((f) => !before.includes(f)), removed: before.filter((f) => !after.includes(f)) }, 'IdP certificates changed in its metadata');
  } else if (!m.lastOk) log.info({ idp: name, url: source.url }, 'IdP metadata fetched again after a failure');
  m.md = md;
  m.settings = settings;
  m.lastOk = true;
  m.lastSuccessMs = Date.now();
  host.metrics?.refreshed(name, 'ok');
  host.metrics?.state(name, true, m.lastSuccessMs);
  host.rebuild();
}

/** The file's settings over the metadata's: certificates from the metadata, URLs unless the file gives them. */
function merge(sp: SpSettings, entry: MetadataEntry, md: IdpMetadata): SamlSettings {
  const given = entry.settings;
  const ssoUrl = given.idpSsoUrl ?? md.ssoUrl;
  if (ssoUrl === undefined) throw new Error('no SingleSignOnService with the HTTP-Redirect binding in the metadata, and no ssoUrl in the file');
  // SLO needs our signing key; without it an IdP's SLO endpoint in its metadata is simply not used.
  const sloUrl = given.idpSloUrl ?? (sp.spSigningKey !== undefined ? md.sloUrl : undefined);
  try {
    return withIdp(sp, { ...given, idpIssuer: entry.entityId, idpCerts: md.certs, idpSsoUrl: ssoUrl, ...(sloUrl !== undefined ? { idpSloUrl: sloUrl } : {}) } as IdpSettingsInput);
  } catch (err) {
    if (err instanceof SamlConfigError) throw new Error(`IdP metadata: ${err.message}`);
    throw err;
  }
}
