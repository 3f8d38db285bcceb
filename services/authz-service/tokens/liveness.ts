import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db/schema.js';
import { findTokenStates, type TokenState } from '../store/token-states.js';
import { DatabaseUnavailableError, databaseFailure } from '../../shared/errors.js';
import type { Log } from '../../shared/log.js';
import { logThrottle } from '../../shared/log-throttle.js';

/** A failed lookup is logged at most once per this many ms (an outage fails every batch): the count of the rest is in the line. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** Why liveness said no (metric label values). */
export type LivenessRefusal = 'unknown_token' | 'revoked' | 'expired' | 'subject_mismatch' | 'liveness_unavailable';
export type Liveness = { live: true } | { live: false; reason: LivenessRefusal };

export interface LivenessOptions {
  /** Safety net: how long an answer is trusted without hearing from Postgres (ms). */
  ttlMs: number;
  /** Bound on cached answers (live and dead together); the oldest goes first. */
  maxEntries: number;
  /** Lookups waiting for Postgres beyond this are refused at once (a flood of unknown tokens). */
  maxPending: number;
  /** Distinct tokens per query. */
  batchSize: number;
  /** Queries in flight at once. */
  maxConcurrentQueries: number;
  /**
   * While the cache is not trusted (the listener does not hear notifications), every request is looked
   * up: lookups are gathered for this many ms and sent as one query (bounded load, bounded delay).
   */
  degradedBatchMs: number;
  onEvent?: (event: 'hit' | 'miss' | 'eviction' | 'coalesced' | 'overload' | 'untrusted', n?: number) => void;
  onQuery?: (seconds: number, ok: boolean) => void;
  /** Where failed lookups are reported (rate-limited: FAILURE_LOG_INTERVAL_MS). */
  log?: Log;
}

interface Entry {
  /** Epoch ms until which this answer holds (never past the token's exp for a live one). */
  until: number;
  answer: Liveness;
  /** The row's subject, for a live answer: a token naming another subject is not this row's. */
  subject?: string;
}

interface Waiter {
  jti: string;
  subject: string;
  resolve: (l: Liveness) => void;
}

const LIVE: Liveness = { live: true };
const UNAVAILABLE: Liveness = { live: false, reason: 'liveness_unavailable' };
const SUBJECT_MISMATCH: Liveness = { live: false, reason: 'subject_mismatch' };
const REVOKED: Liveness = { live: false, reason: 'revoked' };

/**
 * The design's allow-list, cached. A well-signed token is live only while its row exists, unrevoked
 * and unexpired. Answers are cached (bounded, never past exp, at most `ttlMs`), revocations arrive by
 * NOTIFY (see listener.ts) and mark the entry dead at once, and misses are coalesced into batched
 * queries with a bounded queue, so the steady state makes no query per request and a flood of unknown
 * tokens makes a bounded number of queries.
 *
 * The cache is trusted only while the listener proves it hears notifications (`setTrusted`). While it
 * is not, no cached answer is used and none is stored: every request is looked up, gathered into one
 * query per `degradedBatchMs` (slower, never wrong). Only when Postgres cannot be asked at all does an
 * answer cached before the blind period still count, within its bounded lifetime (the safety net of a
 * database outage, when no revocation can be made either). Regaining trust forgets every answer, and a
 * lookup that started before a change of trust never stores its result.
 */
export class LivenessCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Waiter[]>();
  private queue: string[] = [];
  private pendingCount = 0;
  private running = 0;
  private scheduled = false;
  private trusted = false;
  /** Bumped on every change of trust: results of lookups from an older generation are not stored. */
  private generation = 0;
  private readonly logFailure = logThrottle(FAILURE_LOG_INTERVAL_MS);

  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: LivenessOptions,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get isTrusted(): boolean {
    return this.trusted;
  }

  /**
   * The listener's verdict: trusted while it hears its probes. Regaining trust forgets every answer (a
   * revocation may have been missed while deaf); losing it keeps them, used only if Postgres is down.
   */
  setTrusted(trusted: boolean): void {
    if (this.trusted === trusted) return;
    this.trusted = trusted;
    this.generation++;
    if (trusted) this.entries.clear();
  }

  /** The cached answer when there is a current one: the hot path (no allocation, no promise). */
  peek(jti: string, subject: string, now: number): Liveness | undefined {
    const entry = this.entries.get(jti);
    if (entry === undefined) return undefined;
    if (entry.until > now) {
      this.opts.onEvent?.('hit');
      return entry.subject === undefined || entry.subject === subject ? entry.answer : SUBJECT_MISMATCH;
    }
    this.entries.delete(jti);
    return undefined;
  }

  /** Postgres could not be asked: an answer cached within its lifetime (the safety net), else deny. */
  private outageAnswer(jti: string, subject: string, now: number): Liveness {
    const entry = this.entries.get(jti);
    if (entry === undefined || entry.until <= now) return UNAVAILABLE;
    return entry.subject === undefined || entry.subject === subject ? entry.answer : SUBJECT_MISMATCH;
  }

  /** Whether a NOTIFY marked this token revoked (still within its lifetime). */
  private revokedMark(jti: string, now: number): boolean {
    const entry = this.entries.get(jti);
    return entry !== undefined && !entry.answer.live && entry.answer.reason === 'revoked' && entry.until > now;
  }

  /** Cached answer, or one from Postgres (coalesced with other lookups of the same or other tokens). */
  check(jti: string, subject: string, now = Date.now()): Liveness | Promise<Liveness> {
    if (this.trusted) {
      const cached = this.peek(jti, subject, now);
      if (cached !== undefined) return cached;
      this.opts.onEvent?.('miss');
    } else {
      this.opts.onEvent?.('untrusted');
    }
    const waiting = this.inflight.get(jti);
    if (waiting) {
      this.opts.onEvent?.('coalesced');
      return new Promise((resolve) => waiting.push({ jti, subject, resolve }));
    }
    if (this.pendingCount >= this.opts.maxPending) {
      this.opts.onEvent?.('overload');
      return UNAVAILABLE;
    }
    return new Promise((resolve) => {
      this.inflight.set(jti, [{ jti, subject, resolve }]);
      this.queue.push(jti);
      this.pendingCount++;
      this.schedule();
    });
  }

  /** A revocation (NOTIFY): dead at once, also for a lookup still in flight. */
  revoke(jti: string, now = Date.now()): void {
    this.store(jti, { until: now + this.opts.ttlMs, answer: { live: false, reason: 'revoked' } }, true);
  }

  /** Forget everything (the listening connection came back: notifications may have been missed). */
  clear(): void {
    this.entries.clear();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      while (this.queue.length > 0 && this.running < this.opts.maxConcurrentQueries) {
        const batch = this.queue.splice(0, this.opts.batchSize);
        this.running++;
        void this.lookup(batch).finally(() => {
          this.running--;
          if (this.queue.length > 0) this.schedule();
        });
      }
    };
    if (this.trusted) setImmediate(flush);
    else setTimeout(flush, this.opts.degradedBatchMs);
  }

  private async lookup(jtis: string[]): Promise<void> {
    const generation = this.generation;
    const started = process.hrtime.bigint();
    let rows: TokenState[] | undefined;
    try {
      rows = await findTokenStates(this.db, jtis);
      this.opts.onQuery?.(Number(process.hrtime.bigint() - started) / 1e9, true);
    } catch (err) {
      this.opts.onQuery?.(Number(process.hrtime.bigint() - started) / 1e9, false);
      this.reportFailure(err);
    }
    const now = Date.now();
    // Only a lookup made and answered within one period of trust may be remembered.
    const storable = rows !== undefined && this.trusted && generation === this.generation;
    const byJti = new Map(rows?.map((r) => [r.jti, r]));
    for (const jti of jtis) {
      const waiters = this.inflight.get(jti) ?? [];
      this.inflight.delete(jti);
      this.pendingCount--;
      const row = byJti.get(jti);
      for (const w of waiters) {
        let answer: Liveness;
        if (rows === undefined) answer = this.outageAnswer(jti, w.subject, now); // Postgres unreachable: cache nothing
        else if (row === undefined) answer = { live: false, reason: 'unknown_token' };
        else if (row.revoked_at !== null) answer = { live: false, reason: 'revoked' };
        else if (row.expires_at.getTime() <= now) answer = { live: false, reason: 'expired' };
        else answer = row.subject === w.subject ? LIVE : SUBJECT_MISMATCH;
        if (storable) {
          const entry: Entry = row !== undefined && (answer.live || answer === SUBJECT_MISMATCH)
            ? { until: Math.min(now + this.opts.ttlMs, row.expires_at.getTime()), answer: LIVE, subject: row.subject === w.subject ? w.subject : row.subject } // the token's string: one copy per token
            : { until: now + this.opts.ttlMs, answer };
          this.store(jti, entry, false);
        }
        // A revocation that arrived while the query ran wins over what the query read.
        if (rows !== undefined && this.revokedMark(jti, now)) answer = REVOKED;
        w.resolve(answer);
      }
    }
  }

  /** Off the hot path (a failed batch): one line per FAILURE_LOG_INTERVAL_MS; a non-database error says so. */
  private reportFailure(err: unknown): void {
    const log = this.opts.log;
    if (log === undefined) return;
    this.logFailure((leftOut) => {
      const failure = err instanceof DatabaseUnavailableError ? databaseFailure(err) : { name: (err as Error)?.name, message: String((err as Error)?.message ?? err) };
      const what = err instanceof DatabaseUnavailableError ? 'database unavailable' : 'unexpected error';
      log.error({ err: failure, failed_lookups_not_logged: leftOut }, `token liveness lookup failed (${what}): tokens not cached are refused as liveness_unavailable`);
    });
  }

  private store(jti: string, entry: Entry, authoritative: boolean): void {
    const existing = this.entries.get(jti);
    if (!authoritative && existing && !existing.answer.live && existing.answer.reason === 'revoked' && existing.until > Date.now()) return;
    if (existing) this.entries.delete(jti);
    else if (this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) {
        this.entries.delete(oldest);
        this.opts.onEvent?.('eviction');
      }
    }
    this.entries.set(jti, entry);
  }
}
