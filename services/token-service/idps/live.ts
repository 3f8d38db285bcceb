/**
 * The live IdP directory. SAML_IDPS_FILE is polled (a Kubernetes ConfigMap update swaps a symlink,
 * which file watchers miss); a changed file that validates replaces the list atomically, one that does
 * not is refused and the last good list stays (each problem logged, counted). IdPs with a metadata URL
 * are fetched at start (in parallel, each within its timeout), refreshed every `metadataRefreshSeconds`
 * and, after a failure, retried every min(refresh, 30 s); a failed refresh keeps the last good metadata
 * (each such IdP: idps/metadata-idp.ts).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileVersion } from '../../shared/file-version.js';
import { withIdp, type IdpSettingsInput, type SamlSettings, type SpSettings } from '../saml/config.js';
import type { Log } from '../../shared/log.js';
import { fixedDirectory } from './directory.js';
import { IdpsFileError, loadIdpsFile, parseIdpsFile } from './file.js';
import { sharedKeyProblems } from './keys.js';
import { dropMetadataIdp, isMetadata, refreshMetadataIdp, scheduleMetadataIdp, settleMetadataIdp, type MetadataHost, type MetadataIdp } from './metadata-idp.js';
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
  private readonly host: MetadataHost;

  constructor(private readonly file: string, private readonly opts: IdpDirectoryOptions) {
    this.host = {
      sp: opts.sp,
      log: opts.log,
      metrics: opts.metrics,
      signal: this.closing.signal,
      othersCerts: (name) => this.othersCerts(name),
      rebuild: () => this.rebuild(),
    };
  }

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
    const pending = [...this.metadata.values()].map((m) => dropMetadataIdp(m));
    await Promise.allSettled([...pending, this.reloading]);
  }

  async refreshMetadata(name?: string): Promise<void> {
    if (name === undefined) {
      await Promise.all([...this.metadata.values()].map((m) => refreshMetadataIdp(m, this.host)));
      return;
    }
    const m = this.metadata.get(name);
    if (m === undefined) throw new Error(`no IdP "${name}" with a metadata URL`);
    await refreshMetadataIdp(m, this.host);
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
        if (kept.md !== undefined) settleMetadataIdp(kept, kept.md, this.host);
        if (interval) scheduleMetadataIdp(kept, this.host);
        next.set(entry.name, kept);
      } else {
        const m: MetadataIdp = { entry, lastOk: false, queue: Promise.resolve(), dropped: false };
        next.set(entry.name, m);
        fresh.push(m);
      }
    }
    for (const m of previous) void dropMetadataIdp(m);
    this.metadata = next;
    this.entries = entries;
    this.hash = sha256(text);
    this.opts.metrics?.configured([...next.keys()]);
    for (const [name, m] of next) if (m.md !== undefined) this.opts.metrics?.state(name, m.settings !== undefined && m.lastOk, m.lastSuccessMs);
    this.rebuild();
    return Promise.all(fresh.map((m) => refreshMetadataIdp(m, this.host)));
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
}
