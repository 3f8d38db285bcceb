/**
 * The live IdP directory. SAML_IDPS_FILE is polled (a Kubernetes ConfigMap update swaps a symlink,
 * which file watchers miss); a changed file that validates replaces the list atomically, one that does
 * not is refused and the last good list stays (each problem logged, counted). IdPs with a metadata URL
 * are fetched at start (in parallel, each within its timeout), refreshed every `metadataRefreshSeconds`
 * and, after a failure, retried every min(refresh, 30 s); a failed refresh keeps the last good metadata.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileVersion } from '../../shared/file-version.js';
import { SamlConfigError, withIdp, type IdpSettingsInput, type SamlSettings, type SpSettings } from '../saml/config.js';
import type { Log } from '../../shared/log.js';
import { fixedDirectory } from './directory.js';
import { IdpsFileError, loadIdpsFile, parseIdpsFile } from './file.js';
import { sharedKeyProblems } from './keys.js';
import { fetchIdpMetadata, parseIdpMetadata, type IdpMetadata } from './metadata.js';
import type { IdpMetrics } from './metrics.js';
import type { IdpDirectory, IdpEntry, IdpFileEntry, ManagedIdpDirectory } from './types.js';

export interface IdpDirectoryOptions {
  /** SAML_IDPS_FILE; exactly one of `file` and `envIdp`. */
  file?: string;
  /** The one IdP of the single-IdP variables: a fixed directory. */
  envIdp?: IdpEntry;
  sp: SpSettings;
  /** The SAML_* settings every IdP of the file gets unless it says otherwise. */
  defaults: Partial<IdpSettingsInput>;
  log: Log;
  metrics?: IdpMetrics;
  /** How often the file is checked for a change; 0: never (default 5000 ms). */
  pollIntervalMs?: number;
}

/** A failed metadata fetch is retried at most this long after (sooner when the refresh interval is shorter). */
export const METADATA_RETRY_MAX_SECONDS = 30;

/** One IdP whose certificates come from metadata: its last good copy and its refresh timer. */
interface MetadataIdp {
  entry: IdpFileEntry & { source: { kind: 'metadata' } };
  md?: IdpMetadata;
  settings?: SamlSettings;
  lastOk: boolean;
  lastSuccessMs?: number;
  timer?: NodeJS.Timeout;
  queue: Promise<void>;
  dropped: boolean;
}

type MetadataEntry = MetadataIdp['entry'];
const isMetadata = (e: IdpFileEntry): e is MetadataEntry => e.source.kind === 'metadata';
const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export async function startIdpDirectory(opts: IdpDirectoryOptions): Promise<ManagedIdpDirectory> {
  if ((opts.file === undefined) === (opts.envIdp === undefined)) throw new Error('startIdpDirectory: give exactly one of file and envIdp');
  if (opts.envIdp !== undefined) {
    const dir = fixedDirectory([opts.envIdp]);
    return { ...dir, close: async () => {}, refreshMetadata: async () => {}, reloadFile: async () => false };
  }
  const live = new LiveIdps(opts.file!, opts);
  await live.start();
  return live;
}

class LiveIdps implements ManagedIdpDirectory {
  private dir: IdpDirectory = fixedDirectory([]);
  private entries: IdpFileEntry[] = [];
  private certSettings = new Map<string, SamlSettings>();
  private metadata = new Map<string, MetadataIdp>();
  private hash = '';
  private statKey = '';
  private poll: NodeJS.Timeout | undefined;
  private reloading: Promise<boolean> | undefined;
  private readonly closing = new AbortController();

  constructor(private readonly file: string, private readonly opts: IdpDirectoryOptions) {}

  list = () => this.dir.list();
  byEntityId = (entityId: string) => this.dir.byEntityId(entityId);
  byName = (name: string) => this.dir.byName(name);

  async start(): Promise<void> {
    this.statKey = await fileVersion(this.file);
    const { entries, text } = await loadIdpsFile(this.file, this.opts.sp, this.opts.defaults);
    const fetches = this.apply(entries, text);
    this.opts.log.info({ file: this.file, idps: entries.map((e) => e.name) }, 'IdP list loaded');
    // Each fetch is bounded by its own timeout; this bound only guards against one that is not.
    const longest = Math.max(0, ...entries.filter(isMetadata).map((e) => e.source.timeoutSeconds));
    let guard: NodeJS.Timeout | undefined;
    await Promise.race([fetches, new Promise((resolve) => (guard = setTimeout(resolve, longest * 1000 + 250)))]);
    clearTimeout(guard);
    const interval = this.opts.pollIntervalMs ?? 5000;
    if (interval > 0) {
      this.poll = setInterval(() => void this.reloadFile(), interval);
      this.poll.unref();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    this.closing.abort();
    const pending = [...this.metadata.values()].map((m) => this.drop(m));
    await Promise.allSettled([...pending, this.reloading]);
  }

  async refreshMetadata(name?: string): Promise<void> {
    if (name === undefined) {
      await Promise.all([...this.metadata.values()].map((m) => this.refresh(m)));
      return;
    }
    const m = this.metadata.get(name);
    if (m === undefined) throw new Error(`no IdP "${name}" with a metadata URL`);
    await this.refresh(m);
  }

  reloadFile(): Promise<boolean> {
    this.reloading ??= this.reloadIfChanged().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async reloadIfChanged(): Promise<boolean> {
    if (this.closing.signal.aborted) return false;
    const key = await fileVersion(this.file);
    if (key === this.statKey) return false;
    this.statKey = key;
    let problems: readonly string[];
    try {
      const text = await readFile(this.file, 'utf8');
      if (sha256(text) === this.hash) return false;
      const parsed = parseIdpsFile(text, this.opts.sp, this.opts.defaults);
      const result = 'entries' in parsed ? this.withKeptKeysChecked(parsed.entries) : parsed;
      if ('entries' in result) {
        await this.apply(result.entries, text);
        this.opts.metrics?.reloaded('ok');
        this.opts.log.info({ file: this.file, idps: result.entries.map((e) => e.name) }, 'IdP list reloaded');
        return true;
      }
      problems = result.problems;
    } catch (err) {
      problems = err instanceof IdpsFileError ? err.problems : [`cannot read: ${(err as Error).message}`];
    }
    this.opts.metrics?.reloaded('error');
    for (const problem of problems) this.opts.log.error({ file: this.file, problem }, 'IdP file reload refused; keeping the last good IdP list');
    return false;
  }

  /**
   * Puts a validated list in force. Metadata already fetched is kept for an IdP whose entity id and
   * metadata URL did not change; the others are fetched (the returned promise: all of them settled).
   */
  private apply(entries: IdpFileEntry[], text: string): Promise<unknown> {
    const previous = [...this.metadata.values()];
    const next = new Map<string, MetadataIdp>();
    const fresh: MetadataIdp[] = [];
    this.certSettings = new Map();
    for (const entry of entries) {
      if (!isMetadata(entry)) {
        this.certSettings.set(entry.name, withIdp(this.opts.sp, entry.settings as IdpSettingsInput));
        continue;
      }
      const kept = previous.find((m) => !m.dropped && m.entry.entityId === entry.entityId && m.entry.source.url === entry.source.url);
      if (kept !== undefined) {
        previous.splice(previous.indexOf(kept), 1);
        const interval = kept.entry.source.refreshSeconds !== entry.source.refreshSeconds;
        kept.entry = entry;
        if (kept.md !== undefined) this.settle(kept, kept.md);
        if (interval) this.schedule(kept);
        next.set(entry.name, kept);
      } else {
        const m: MetadataIdp = { entry, lastOk: false, queue: Promise.resolve(), dropped: false };
        next.set(entry.name, m);
        fresh.push(m);
      }
    }
    for (const m of previous) void this.drop(m);
    this.metadata = next;
    this.entries = entries;
    this.hash = sha256(text);
    this.opts.metrics?.configured([...next.keys()]);
    for (const [name, m] of next) if (m.md !== undefined) this.opts.metrics?.state(name, m.settings !== undefined && m.lastOk, m.lastSuccessMs);
    this.rebuild();
    return Promise.all(fresh.map((m) => this.refresh(m)));
  }

  /** The IdP's settings from the file and this metadata; false (and logged) when they do not validate. */
  private settle(m: MetadataIdp, md: IdpMetadata): boolean {
    try {
      m.settings = merge(this.opts.sp, m.entry, md);
      return true;
    } catch (err) {
      m.settings = undefined;
      this.opts.log.error({ idp: m.entry.name, url: m.entry.source.url, error: (err as Error).message }, 'IdP metadata does not give usable settings; the IdP is unavailable');
      return false;
    }
  }

  /**
   * The new list, or its problems when one of its certificate IdPs would share a signing key with a
   * metadata IdP whose metadata the reload keeps (the file alone cannot see those keys).
   */
  private withKeptKeysChecked(entries: IdpFileEntry[]): { entries: IdpFileEntry[] } | { problems: string[] } {
    const kept = [...this.metadata.values()].filter((m) => m.settings !== undefined);
    const certsOf = (e: IdpFileEntry): readonly string[] => (isMetadata(e)
      ? kept.find((m) => m.entry.entityId === e.entityId && m.entry.source.url === e.source.url)?.settings?.idpCerts
      : e.settings.idpCerts) ?? [];
    const problems = sharedKeyProblems(entries.map((e) => ({ name: e.name, certs: certsOf(e) })));
    return problems.length > 0 ? { problems } : { entries };
  }

  /** The certificates every other configured IdP verifies with now. */
  private othersCerts(name: string): { name: string; certs: readonly string[] }[] {
    return this.entries.filter((e) => e.name !== name).map((e) => ({
      name: e.name,
      certs: (isMetadata(e) ? this.metadata.get(e.name)?.settings : this.certSettings.get(e.name))?.idpCerts ?? [],
    }));
  }

  private rebuild(): void {
    this.dir = fixedDirectory(this.entries.map((e) => ({
      name: e.name,
      entityId: e.entityId,
      displayName: e.displayName,
      settings: isMetadata(e) ? this.metadata.get(e.name)?.settings : this.certSettings.get(e.name),
    })));
  }

  private refresh(m: MetadataIdp): Promise<void> {
    m.queue = m.queue.then(() => this.fetchOnce(m)).then(() => this.schedule(m));
    return m.queue;
  }

  private schedule(m: MetadataIdp): void {
    clearTimeout(m.timer);
    if (m.dropped) return;
    const { refreshSeconds } = m.entry.source;
    const delay = m.lastOk ? refreshSeconds : Math.min(refreshSeconds, METADATA_RETRY_MAX_SECONDS);
    m.timer = setTimeout(() => void this.refresh(m), delay * 1000);
    m.timer.unref();
  }

  private async drop(m: MetadataIdp): Promise<void> {
    m.dropped = true;
    clearTimeout(m.timer);
    await m.queue;
  }

  private async fetchOnce(m: MetadataIdp): Promise<void> {
    if (m.dropped) return;
    const { name, entityId, source } = m.entry;
    const log = this.opts.log;
    let md: IdpMetadata;
    let settings: SamlSettings;
    try {
      const xml = await fetchIdpMetadata(source.url, { timeoutMs: source.timeoutSeconds * 1000, signal: this.closing.signal });
      md = parseIdpMetadata(xml, entityId);
      // A key another configured IdP signs with is refused like bad metadata (the last good copy stays).
      const shared = sharedKeyProblems([...this.othersCerts(name), { name, certs: md.certs }]);
      if (shared.length > 0) throw new Error(`IdP metadata: ${shared[0]}`);
      settings = merge(this.opts.sp, m.entry, md);
    } catch (err) {
      if (m.dropped) return;
      m.lastOk = false;
      // The last good copy is kept, but never past its own validUntil: then the IdP is unavailable.
      if (m.md?.validUntil !== undefined && m.md.validUntil.getTime() <= Date.now() && m.settings !== undefined) {
        m.settings = undefined;
        log.error({ idp: name, url: source.url, valid_until: m.md.validUntil.toISOString() }, 'IdP metadata expired (validUntil) and could not be fetched again; the IdP is unavailable until it is');
        this.rebuild();
      }
      const fields = { idp: name, url: source.url, error: (err as Error).message };
      if (m.settings !== undefined) log.warn(fields, 'IdP metadata refresh failed; keeping the last good metadata');
      else log.error(fields, 'IdP metadata could not be fetched; the IdP is unavailable until it is');
      this.opts.metrics?.refreshed(name, 'error');
      this.opts.metrics?.state(name, false, m.lastSuccessMs);
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
    this.opts.metrics?.refreshed(name, 'ok');
    this.opts.metrics?.state(name, true, m.lastSuccessMs);
    this.rebuild();
  }
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
