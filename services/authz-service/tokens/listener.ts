import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { REVOCATION_CHANNEL } from '../../shared/db/schema.js';
import type { Log } from '../../shared/log.js';

/** Why the listener stopped being trusted (log field and readiness detail). */
export type DeafReason = 'not_yet_heard' | 'disconnected' | 'probe_missed';

export interface ListenerOptions {
  /** The LISTEN connection: LISTEN_DATABASE_URL when set (direct), else DATABASE_URL. */
  url: string;
  onRevoked: (jti: string) => void;
  /** Called after every (re)connection has LISTENed: notifications may have been missed before it. */
  onResync: () => void;
  onStateChange?: (connected: boolean) => void;
  /**
   * Called on every change of `healthy`: true once a probe sent after the last doubt has been heard,
   * false at once when the connection drops or a probe is not heard within `probeTimeoutMs`.
   */
  onHealthChange?: (healthy: boolean, reason: DeafReason | undefined) => void;
  onProbeMissed?: () => void;
  /** Sends `NOTIFY <channel>, <payload>` through the normal pool (where revocations are committed). */
  sendProbe: (channel: string, payload: string) => Promise<void>;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  log: Pick<Log, 'warn' | 'info'>;
  /** How often the connection proves it is alive (a half-open TCP connection hears nothing). */
  heartbeatMs?: number;
}

const PROBE_PREFIX = 'probe:';

/** True for a probe payload (ours or another replica's): never a token id. */
export const isProbe = (payload: string): boolean => payload.startsWith(PROBE_PREFIX);

/**
 * A dedicated connection that LISTENs for revocations. When it drops, it reconnects with backoff by
 * itself; each successful (re)connection triggers a resync, so a revocation made while it was away is
 * honoured as soon as it is back.
 *
 * Being connected proves nothing: LISTEN through a transaction-mode pooler succeeds and then hears
 * nothing. So the listener sends itself a probe on the revocation channel every `probeIntervalMs`
 * through the normal pool, and is `healthy` only while each probe arrives within `probeTimeoutMs`.
 * Postgres delivers a session's notifications in commit order, so hearing a probe proves every
 * revocation committed before it was heard too.
 */
export class RevocationListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private backoffMs = 100;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly deadlines = new Set<NodeJS.Timeout>();
  private readonly instance = randomBytes(9).toString('base64url');
  private sentSeq = 0;
  private heardSeq = 0;
  private firstHeard: (() => void) | undefined;
  private announced: boolean | undefined;
  connected = false;
  healthy = false;
  /** Why the listener is not healthy (undefined while it is). */
  deafReason: DeafReason | undefined = 'not_yet_heard';
  /** Probes not heard within the bound, since start. */
  missedProbes = 0;

  constructor(private readonly opts: ListenerOptions) {}

  /**
   * Connects and LISTENs, then waits (at most one probe timeout) for the first probe, so that a
   * listener that works starts healthy. Never throws: an unreachable database is retried in the background.
   */
  async start(): Promise<void> {
    const heard = new Promise<void>((resolve) => (this.firstHeard = resolve));
    await this.connect();
    this.probeTimer = setInterval(() => this.probe(), this.opts.probeIntervalMs);
    this.probeTimer.unref();
    if (!this.connected) return;
    const wait = setTimeout(() => this.firstHeard?.(), this.opts.probeTimeoutMs);
    await heard;
    clearTimeout(wait);
  }

  private setConnected(value: boolean): void {
    if (this.connected === value) return;
    this.connected = value;
    this.opts.onStateChange?.(value);
  }

  private setHealthy(value: boolean, reason: DeafReason | undefined): void {
    this.deafReason = reason;
    if (this.healthy !== value) {
      this.healthy = value;
      this.opts.onHealthChange?.(value, reason);
    }
    // Logged once per transition (and once at start-up, whichever way it goes), never per probe.
    if (this.announced === value || this.stopped) return;
    this.announced = value;
    if (value) this.opts.log.info({}, 'revocation listener hears its probes: liveness cache trusted');
    else
      this.opts.log.warn(
        { reason, probe_timeout_ms: this.opts.probeTimeoutMs },
        'revocation listener does not hear notifications: liveness checked against Postgres on every request until it does (set LISTEN_DATABASE_URL to a direct connection when DATABASE_URL is a pooler)',
      );
  }

  /** Sends one probe; unless it is heard within the timeout, the listener is not healthy. */
  private probe(): void {
    if (this.stopped || !this.connected) return;
    const seq = ++this.sentSeq;
    const missed = () => {
      if (this.heardSeq >= seq || this.stopped) return;
      this.missedProbes++;
      this.opts.onProbeMissed?.();
      if (this.connected) this.setHealthy(false, 'probe_missed');
    };
    const deadline = setTimeout(() => {
      this.deadlines.delete(deadline);
      // After a stalled event loop, timers run before pending I/O: let a probe that did arrive be read first.
      setImmediate(missed);
    }, this.opts.probeTimeoutMs);
    deadline.unref();
    this.deadlines.add(deadline);
    // A send that fails (pool down) is simply never heard: the deadline above reports it.
    this.opts.sendProbe(REVOCATION_CHANNEL, `${PROBE_PREFIX}${this.instance}:${seq}`).catch(() => {});
  }

  private heard(payload: string): void {
    const mine = `${PROBE_PREFIX}${this.instance}:`;
    if (!payload.startsWith(mine)) return; // another replica's probe
    const seq = Number(payload.slice(mine.length));
    if (!(seq > this.heardSeq)) return;
    this.heardSeq = seq;
    if (this.connected) this.setHealthy(true, undefined);
    this.firstHeard?.();
    this.firstHeard = undefined;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.opts.url, keepAlive: true, connectionTimeoutMillis: 3000, application_name: 'saml-authz-listener' });
    this.client = client;
    let failedOnce = false;
    const fail = (err: unknown) => {
      if (failedOnce) return;
      failedOnce = true;
      this.setConnected(false);
      this.setHealthy(false, 'disconnected');
      clearInterval(this.heartbeat);
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.stopped) return;
      this.opts.log.warn({ reason: (err as Error)?.message ?? 'connection ended', retry_ms: this.backoffMs }, 'revocation listener disconnected');
      this.retryTimer = setTimeout(() => void this.connect(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 5000);
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel !== REVOCATION_CHANNEL || !msg.payload) return;
      if (isProbe(msg.payload)) this.heard(msg.payload);
      else this.opts.onRevoked(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
    } catch (err) {
      fail(err);
      return;
    }
    this.backoffMs = 100;
    // Probes sent before this connection LISTENed can never be heard on it: only a later one proves it.
    this.heardSeq = this.sentSeq;
    this.opts.onResync();
    this.setConnected(true);
    this.opts.log.info({}, 'revocation listener connected');
    this.heartbeat = setInterval(() => {
      client.query('select 1').catch(fail);
    }, this.opts.heartbeatMs ?? 5000);
    this.heartbeat.unref();
    this.probe();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    clearInterval(this.probeTimer);
    for (const d of this.deadlines) clearTimeout(d);
    this.deadlines.clear();
    this.firstHeard?.();
    this.setConnected(false);
    await this.client?.end().catch(() => {});
  }
}
