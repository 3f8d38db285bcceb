/**
 * Debian's Chromium, headless, driven by playwright-core (no browser download: `executablePath`).
 * Loopback only: every host name resolves to nothing except the ones a suite maps to 127.0.0.1
 * (`--host-resolver-rules`), no proxy, no background networking, no first-run, component updates,
 * sync or crash reports; a temporary profile per launch (Playwright's own, removed at close). Closed
 * in teardown, also on failure, and killed if it does not close in time.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Request, type Response } from 'playwright-core';
import { findBinary } from '../helpers/binaries.js';

/** The Chromium binary: CHROMIUM_BINARY when set, else Debian's `chromium` on PATH. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): { path: string } | { missing: string } {
  const given = env.CHROMIUM_BINARY;
  if (given !== undefined && given !== '') {
    return existsSync(given) ? { path: given } : { missing: `BROWSER SUITE NOT RUN: CHROMIUM_BINARY=${given} does not exist` };
  }
  const found = findBinary('chromium');
  return found ? { path: found } : { missing: 'BROWSER SUITE NOT RUN: no `chromium` on PATH: apt-get install -y chromium (npm test installs it as root)' };
}

/** The SHA-256 of a certificate's public key (base64), as `--ignore-certificate-errors-spki-list` takes it. */
export function spkiHash(certPem: string): string {
  const der = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

export interface LaunchOptions {
  /** host names the browser resolves to 127.0.0.1 (nothing else resolves, 127.0.0.1 and localhost aside) */
  hosts?: readonly string[];
  /** PEM certificates the browser accepts for TLS although no CA signed them (pinned by public key) */
  trust?: readonly string[];
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** The flags that keep Chromium on loopback and quiet. */
export function chromiumArgs(o: LaunchOptions): string[] {
  const rules = [...(o.hosts ?? []).map((h) => `MAP ${h} 127.0.0.1`), 'MAP * ~NOTFOUND', 'EXCLUDE 127.0.0.1', 'EXCLUDE localhost'];
  return [
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-domain-reliability',
    '--disable-breakpad',
    '--disable-dev-shm-usage',
    '--no-proxy-server',
    '--metrics-recording-only',
    `--host-resolver-rules=${rules.join(', ')}`,
    ...(o.trust?.length ? [`--ignore-certificate-errors-spki-list=${o.trust.map(spkiHash).join(',')}`] : []),
  ];
}

/** Launches headless Chromium; closed in teardown (its process killed, by pid, if closing takes over 10 s). */
export async function launchChromium(t: Teardown, executablePath: string, o: LaunchOptions = {}): Promise<Browser> {
  const before = new Set(ownChildren());
  const browser = await chromium.launch({ executablePath, headless: true, args: chromiumArgs(o), timeout: 30_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } });
  const started = ownChildren().filter((pid) => !before.has(pid));
  t.teardown(async () => {
    const timer = setTimeout(() => {
      for (const pid of started) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }, 10_000);
    await browser.close().catch(() => undefined);
    clearTimeout(timer);
  });
  return browser;
}

/** The pids of this process's children (Linux /proc). */
function ownChildren(): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** One network event as the browser saw it: what it sent (cookies included) and what came back. */
export interface Exchange {
  method: string;
  url: string;
  status: number | undefined;
  /** every request header Chromium sent, `cookie` and `sec-fetch-*` included */
  sent: Record<string, string>;
  location: string | undefined;
  setCookie: string | undefined;
}

/** Every request of a browser context, in order, with the headers really sent (redirect hops included). */
export class NetworkLog {
  readonly exchanges: Exchange[] = [];
  private readonly pending: Promise<unknown>[] = [];

  constructor(context: BrowserContext) {
    context.on('requestfinished', (r) => this.pending.push(this.record(r)));
    context.on('requestfailed', (r) => this.pending.push(this.record(r)));
  }

  private async record(r: Request): Promise<void> {
    const entry: Exchange = { method: r.method(), url: r.url(), status: undefined, sent: {}, location: undefined, setCookie: undefined };
    this.exchanges.push(entry);
    entry.sent = await r.allHeaders().catch(() => ({}));
    const res: Response | null = await r.response().catch(() => null);
    if (res) {
      entry.status = res.status();
      const headers = await res.allHeaders().catch(() => ({}) as Record<string, string>);
      entry.location = headers.location;
      entry.setCookie = headers['set-cookie'];
    }
  }

  /** Waits until every event seen so far is recorded. */
  async settled(): Promise<Exchange[]> {
    while (this.pending.length > 0) await Promise.all(this.pending.splice(0));
    return this.exchanges;
  }

  /** The exchanges whose URL starts with `prefix`. */
  async to(prefix: string): Promise<Exchange[]> {
    return (await this.settled()).filter((e) => e.url.startsWith(prefix));
  }

  clear(): void {
    this.exchanges.splice(0);
  }
}
