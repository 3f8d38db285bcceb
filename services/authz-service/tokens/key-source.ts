import { loadVerificationKeys, type VerificationKey } from '../../shared/jwt-keys.js';
import { TokenVerifier, type VerifyResult } from '../../shared/jwt-verify.js';
import type { Log as SharedLog } from '../../shared/log.js';
import type { AuthzServiceConfig } from '../config.js';

type Log = Pick<SharedLog, 'warn' | 'info'>;

/**
 * The verifier and where its keys come from: fixed keys (JWT_PUBLIC_KEYS), or the token-service's JWKS
 * fetched at start, refreshed every `refreshSeconds`, and refreshed early — at most once per
 * `minRefreshSeconds` — when a token names a `kid` we do not know (a key rotation reached us first).
 */
export class KeySource {
  readonly verifier: TokenVerifier;
  private lastFetch = 0;
  private fetching: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  loaded: boolean;

  constructor(
    private readonly config: Pick<AuthzServiceConfig, 'keys' | 'jwtIssuer' | 'jwtAudience' | 'clockSkewSeconds' | 'cache'>,
    private readonly log: Log,
    /** The authz-service's own UPSTREAM_JWT keys: a JWKS that publishes one of them is refused. */
    private readonly ownKids: readonly string[] = [],
  ) {
    const initial: VerificationKey[] = config.keys.kind === 'static' ? config.keys.keys : [];
    this.loaded = config.keys.kind === 'static';
    this.verifier = new TokenVerifier(initial, {
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      clockToleranceSeconds: config.clockSkewSeconds,
      cacheSize: Math.min(config.cache.maxEntries, 100_000),
    });
  }

  /** For JWKS: the first fetch (failure is logged, readiness stays false, retries follow) and the timer. */
  async start(): Promise<void> {
    const keys = this.config.keys;
    if (keys.kind !== 'jwks') return;
    await this.refresh();
    // Until the first fetch succeeds, retry every minRefreshSeconds; then refresh every refreshSeconds.
    const schedule = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.refresh().finally(schedule), (this.loaded ? keys.refreshSeconds : keys.minRefreshSeconds) * 1000);
      this.timer.unref();
    };
    schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Verifies; an unknown kid may trigger one (rate-limited) JWKS refresh and a second attempt. */
  verify(token: string): VerifyResult | Promise<VerifyResult> {
    const result = this.verifier.verify(token);
    if (result.ok || result.reason !== 'unknown_key' || this.config.keys.kind !== 'jwks') return result;
    if (TokenVerifier.kidOf(token) === undefined) return result;
    // A refresh in flight answers every token waiting on it; otherwise at most one per interval.
    if (this.fetching) return this.fetching.then(() => this.verifier.verify(token));
    if (Date.now() - this.lastFetch < this.config.keys.minRefreshSeconds * 1000) return result;
    return this.refresh().then(() => this.verifier.verify(token));
  }

  private refresh(): Promise<boolean> {
    const keys = this.config.keys;
    if (keys.kind !== 'jwks') return Promise.resolve(true);
    this.fetching ??= (async () => {
      this.lastFetch = Date.now();
      try {
        // No redirect is followed: whoever the URL would send us to must not choose the keys.
        const res = await fetch(keys.url, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' }, redirect: 'error' });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const text = await res.text();
        if (text.length > 1_000_000) throw new Error('JWKS document too large');
        const loaded = loadVerificationKeys(text);
        if (loaded.some((k) => k.kids.some((kid) => this.ownKids.includes(kid)))) {
          throw new Error("the JWKS publishes the authz-service's own UPSTREAM_JWT_PRIVATE_KEY: user tokens and upstream assertions need different keys");
        }
        this.verifier.setKeys(loaded);
        if (!this.loaded) this.log.info({ url: keys.url }, 'JWKS loaded');
        this.loaded = true;
        return true;
      } catch (err) {
        const cause = (err as Error).cause;
        const reason = cause instanceof Error ? `${(err as Error).message}: ${cause.message}` : (err as Error).message;
        this.log.warn({ url: keys.url, reason }, 'JWKS refresh failed; keeping the keys we have');
        return false;
      } finally {
        this.fetching = undefined;
      }
    })();
    return this.fetching;
  }
}
