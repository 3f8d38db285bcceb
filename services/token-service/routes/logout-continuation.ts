import type { FastifyRequest } from 'fastify';
import type { SessionRow } from '../store/sessions.js';
import type { RouteContext } from './context.js';

/**
 * Where a browser's sign-out continues once the local session has ended and its cookies are cleared:
 * the URL to send the browser to (303), or undefined when the sign-out ends here (the signed-out page,
 * or the allowed `rd`).
 *
 * Extension point for SAML Single Logout (SP-initiated, HTTP-Redirect, signed LogoutRequest to
 * SAML_IDP_SLO_URL, completed by the IdP's LogoutResponse at /saml/slo): `ended` holds the sessions just
 * ended (NameID, its format, IdP and SessionIndex), `returnTo` the allowed return URL, if any, to carry
 * as RelayState. Until SLO is configured, nothing continues.
 */
export async function continueSignOutAtIdp(
  _ctx: RouteContext,
  _req: FastifyRequest,
  _ended: readonly SessionRow[],
  _returnTo: string | undefined,
): Promise<string | undefined> {
  return undefined;
}
