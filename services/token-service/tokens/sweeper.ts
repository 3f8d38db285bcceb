import type { App } from '../../shared/app-base.js';
import type { Audit } from '../../shared/audit.js';
import type { TokenMetrics } from '../metrics.js';
import { sweepExpired } from '../store/tokens.js';
import { sweepLogoutIds } from '../store/slo.js';
import { endLapsedSessions } from '../store/sessions.js';

/**
 * Every `intervalSeconds` (0 = never; run by each replica, idempotent): ends the sessions that went idle
 * or reached their absolute end without their browser coming back (audited, counted: each once, by
 * whichever replica gets there first), then deletes expired token rows, assertion ids, request ids,
 * logout ids (SLO) and sessions past their absolute end. Stops with the app.
 */
export function startSweeper(app: App, intervalSeconds: number, graceSeconds: number, deps: { audit: Audit; metrics: TokenMetrics }): void {
  if (intervalSeconds === 0) return;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepOnce(app, graceSeconds, deps)
      .then((counts) => app.log.debug({ ...counts }, 'expired rows swept'))
      .catch((err: unknown) => app.log.warn({ reason: (err as Error).message }, 'expiry sweep failed'))
      .finally(() => (running = false));
  }, intervalSeconds * 1000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}

/** One sweep (exported for tests). */
export async function sweepOnce(app: App, graceSeconds: number, { audit, metrics }: { audit: Audit; metrics: TokenMetrics }) {
  const lapsed = await endLapsedSessions(app.db.kysely);
  for (const s of lapsed) {
    metrics.sessionsEnded.inc({ reason: s.reason });
    audit({ event: 'session_ended', sid: s.sid, subject: s.subject, reason: s.reason });
  }
  return { ...(await sweepExpired(app.db.kysely, graceSeconds)), ...(await sweepLogoutIds(app.db.kysely)), sessionsEnded: lapsed.length };
}
