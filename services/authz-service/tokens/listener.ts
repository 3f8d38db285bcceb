import pg from 'pg';
import { REVOCATION_CHANNEL } from '../../shared/db/schema.js';

export interface ListenerOptions {
  url: string;
  onRevoked: (jti: string) => void;
  /** Called after every (re)connection has LISTENed: notifications may have been missed before it. */
  onResync: () => void;
  onStateChange?: (connected: boolean) => void;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** How often the connection proves it is alive (a half-open TCP connection hears nothing). */
  heartbeatMs?: number;
}

/**
 * A dedicated connection that LISTENs for revocations. When it drops, it reconnects with backoff by
 * itself; each successful (re)connection triggers a resync, so a revocation made while it was away is
 * honoured as soon as it is back.
 */
export class RevocationListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private backoffMs = 100;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  connected = false;

  constructor(private readonly opts: ListenerOptions) {}

  start(): Promise<void> {
    return this.connect();
  }

  private setConnected(value: boolean): void {
    if (this.connected === value) return;
    this.connected = value;
    this.opts.onStateChange?.(value);
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
      if (msg.channel === REVOCATION_CHANNEL && msg.payload) this.opts.onRevoked(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
    } catch (err) {
      fail(err);
      return;
    }
    this.backoffMs = 100;
    this.opts.onResync();
    this.setConnected(true);
    this.opts.log.info({}, 'revocation listener connected');
    this.heartbeat = setInterval(() => {
      client.query('select 1').catch(fail);
    }, this.opts.heartbeatMs ?? 5000);
    this.heartbeat.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    this.setConnected(false);
    await this.client?.end().catch(() => {});
  }
}
