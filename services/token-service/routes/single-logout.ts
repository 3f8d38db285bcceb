import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db/schema.js';
import { sloEnabled, type SamlSettings } from '../saml/config.js';
import { buildLogoutRequest } from '../saml/logout-request.js';
import { redirectUrl } from '../saml/redirect-binding.js';
import { savePendingLogout } from '../store/slo.js';
import type { TokenMetrics } from '../metrics.js';

/** Who is signing out: the ended session's NameID, its Format and SessionIndex (sessions table). */
export interface SignedOutSession {
  nameId: string;
  nameIdFormat?: string | null;
  sessionIndex?: string | null;
}

/**
 * SP-initiated Single Logout, for `/logout` after it has ended the browser's session: when SLO is
 * configured, stores a new LogoutRequest id with the allowed return URL (`returnUrl`, already checked
 * by the caller; null = the signed-out page) and returns the IdP URL to redirect the browser to (a
 * signed LogoutRequest, HTTP-Redirect binding). `/saml/slo` completes it on the IdP's LogoutResponse.
 * Returns undefined when SLO is not configured (then `/logout` lands on its own page). Throws when
 * Postgres fails (the caller's 503 — the local session is already ended).
 */
export async function continueWithSingleLogout(
  db: Kysely<Database>,
  cfg: SamlSettings,
  who: SignedOutSession,
  returnUrl: string | null,
  metrics?: TokenMetrics,
  now: Date = new Date(),
): Promise<string | undefined> {
  if (!sloEnabled(cfg)) return undefined;
  const request = buildLogoutRequest(cfg, who, now);
  await savePendingLogout(db, { requestId: request.id, returnUrl, idpIssuer: cfg.idpIssuer, expiresAt: new Date(request.expiresAt.getTime() + cfg.clockSkewSeconds * 1000) });
  metrics?.slo.inc({ direction: 'sp_initiated', result: 'started' });
  return redirectUrl(cfg.idpSloUrl, 'SAMLRequest', request.xml, cfg.spSigningKey);
}
