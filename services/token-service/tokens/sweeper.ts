import type { App } from '../../shared/app-base.js';
import { sweepExpired } from '../store/tokens.js';
import { sweepLogoutIds } from '../store/slo.js';

/**
 * Deletes expired token rows, assertion ids and request ids every `intervalSeconds` (0 = never; run
 * by each replica, the deletes are idempotent). Stops with the app.
 */
export function startSweeper(app: App, intervalSeconds: number, graceSeconds: number): void {
  if (intervalSeconds === 0) return;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    Promise.all([sweepExpired(app.db.kysely, graceSeconds), sweepLogoutIds(app.db.kysely)])
      .then(([counts, logout]) => ({ ...counts, ...logout }))
      .then((counts) => app.log.debug({ ...counts }, 'expired rows swept'))
      .catch((err: unknown) => app.log.warn({ reason: (err as Error).message }, 'expiry sweep failed'))
      .finally(() => (running = false));
  }, intervalSeconds * 1000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}
