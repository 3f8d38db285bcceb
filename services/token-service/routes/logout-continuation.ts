import type { FastifyRequest } from 'fastify';
import type { SessionRow } from '../store/sessions.js';
import type { RouteContext } from './context.js';
import { continueWithSingleLogout } from './single-logout.js';
import { sloEnabled } from '../saml/config.js';
import { databaseUnavailable } from './unavailable.js';

/**
 * Where a browser's sign-out continues once the local session has ended and its cookies are cleared:
 * the URL to send the browser to (303), or undefined when the sign-out ends here (the signed-out page,
 * or the allowed `rd`).
 *
 * With SAML Single Logout configured (SAML_IDP_SLO_URL and the SP signing key): a signed LogoutRequest
 * (HTTP-Redirect) to the IdP for the session just ended — its NameID, NameID format and SessionIndex —
 * whose id is kept in Postgres with the allowed return URL; the IdP's LogoutResponse at /saml/slo
 * completes it (routes/slo.ts) and lands on that URL or the signed-out page; with several IdPs, at the
 * IdP of the session ended. A sign-out that ended no session of a configured IdP with SLO (a token from
 * before sessions, an IdP without an SLO URL) ends here. Postgres failing to keep the request
 * id: the local sign-out stands and ends here (logged), rather than sending a request no replica could
 * complete.
 */
export async function continueSignOutAtIdp(
  ctx: RouteContext,
  req: FastifyRequest,
  ended: readonly SessionRow[],
  returnTo: string | undefined,
): Promise<string | undefined> {
  // The first ended session whose IdP is still configured with SLO (and usable: its metadata arrived).
  const withSlo = (s: SessionRow) => {
    const cfg = ctx.idps.byEntityId(s.idp_issuer)?.settings;
    return cfg !== undefined && sloEnabled(cfg) ? cfg : undefined;
  };
  const session = ended.find((s) => withSlo(s) !== undefined);
  const cfg = session === undefined ? undefined : withSlo(session);
  if (session === undefined || cfg === undefined) return undefined;
  try {
    const url = await continueWithSingleLogout(
      req.server.db.kysely,
      cfg,
      { nameId: session.subject, nameIdFormat: session.name_id_format, sessionIndex: session.session_index },
      returnTo ?? null,
      ctx.metrics,
    );
    if (url !== undefined) ctx.audit({ event: 'slo_out', direction: 'sp_initiated', result: 'started', subject: session.subject, client: req.clientAddress, request_id: req.id });
    return url;
  } catch (err) {
    databaseUnavailable(req, err, 'single logout not started');
    ctx.metrics.slo.inc({ direction: 'sp_initiated', result: 'unavailable' });
    return undefined;
  }
}
