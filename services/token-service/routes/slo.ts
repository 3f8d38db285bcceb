import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { serializeCookie } from '../../shared/cookies.js';
import { sloEnabled, type SamlSettings } from '../saml/config.js';
import type { IdpDirectory } from '../idps/types.js';
import { checkLogoutRequest, type ValidatedLogoutRequest } from '../saml/logout-request.js';
import { buildLogoutResponse, checkLogoutResponse, type ValidatedLogoutResponse } from '../saml/logout-response.js';
import { redirectUrl } from '../saml/redirect-binding.js';
import { claimedLogoutIssuer, readLogoutMessage, type SloInput, type VerifiedLogoutMessage } from '../saml/slo-message.js';
import { SloRejection, type SloRejectReason } from '../saml/slo-reasons.js';
import { consumePendingLogout, endSessionsForLogout, recordLogoutRequest } from '../store/slo.js';
import { ErrorBody, NoBody, NO_STORE, routeRateLimit, type RouteContext } from './context.js';
import { databaseUnavailable } from './unavailable.js';
import type { SLO_DIRECTIONS } from '../metrics.js';
import { PAGES, sendSloPage as sendPage } from './slo-pages.js';

type SloDirection = (typeof SLO_DIRECTIONS)[number];

const SloBody = Type.Object(
  {
    SAMLRequest: Type.Optional(Type.String({ minLength: 1 })),
    SAMLResponse: Type.Optional(Type.String({ minLength: 1 })),
    RelayState: Type.Optional(Type.String({ maxLength: 2048 })),
  },
  { additionalProperties: false },
);

const UNREADABLE: readonly SloRejectReason[] = ['malformed', 'too_large', 'dtd_forbidden', 'wrong_binding'];

/**
 * GET|POST /saml/slo — our SingleLogoutService (HTTP-Redirect and HTTP-POST), registered only when SLO
 * is configured (SAML_IDP_SLO_URL and the SP signing key).
 *
 * - An IdP's LogoutRequest (signature, issuer, destination, time window verified: slo-message.ts,
 *   logout-request.ts) ends the sessions of its NameID (+ SessionIndex) and records its id against
 *   replay, in one transaction; then the browser is sent back with our signed LogoutResponse (Success;
 *   also when no session was live) by HTTP-Redirect to SAML_IDP_SLO_URL, and our session cookie is cleared.
 * - The IdP's LogoutResponse completes a logout we started (single-logout.ts): its InResponseTo must
 *   name an outstanding logout request of ours (spent here) → the allowed return URL kept with it, or
 *   the signed-out page.
 *
 * A refused message (any check; the reason in the log, the audit event and saml_slo_refused_total)
 * gets a 400 (unreadable) or 403 page, revokes nothing and is not answered: a LogoutResponse to a
 * message we cannot trust would be ours to sign on anyone's behalf. Postgres failing: 503, nothing ended.
 */
const slo: FastifyPluginAsyncTypebox<RouteContext> = async (app, { config, metrics, audit, idps }) => {
  // Registered when our signing key is set and SLO can be configured: the single IdP has an SLO URL, or IdPs come from a file (reloaded).
  if (config.sp.spSigningKey === undefined || (config.idps.kind === 'env' && !sloEnabled(config.idps.idp))) return;
  const clear = serializeCookie(config.cookie.name, '', { ...config.cookie, maxAgeSeconds: 0 });

  const refuse = (req: FastifyRequest, reply: FastifyReply, err: SloRejection, direction: SloDirection) => {
    metrics.sloRefused.inc({ reason: err.reason });
    metrics.slo.inc({ direction, result: 'refused' });
    req.log.info({ reason: err.reason, detail: err.detail }, 'SAML logout message refused');
    audit({ event: 'slo_refused', direction, reason: err.reason, client: req.clientAddress, request_id: req.id });
    return sendPage(req, reply, UNREADABLE.includes(err.reason) ? PAGES.malformed : PAGES.refused);
  };
  const unavailable = (req: FastifyRequest, reply: FastifyReply, direction: SloDirection, err: unknown) => {
    databaseUnavailable(req, err, 'logout not completed');
    metrics.slo.inc({ direction, result: 'unavailable' });
    return sendPage(req, reply, PAGES.unavailable);
  };

  const handle = async (req: FastifyRequest, reply: FastifyReply, input: SloInput) => {
    const now = new Date();
    // For the refusal metric: which way the message was going, as far as its parameter says.
    const direction: SloDirection = (input.binding === 'post' ? input.SAMLResponse !== undefined : /(?:^|&)SAMLResponse=/.test(input.rawQuery)) ? 'sp_initiated' : 'idp_initiated';
    let message: VerifiedLogoutMessage;
    let cfg: SloSettings;
    let request: ValidatedLogoutRequest | undefined;
    let response: ValidatedLogoutResponse | undefined;
    try {
      ({ message, cfg } = readFromSloIdps(input, idps, config.sp.maxResponseBytes));
      if (message.kind === 'LogoutRequest') request = checkLogoutRequest(message.root, cfg, now);
      else response = checkLogoutResponse(message.root, cfg, now);
    } catch (err) {
      if (err instanceof SloRejection) return refuse(req, reply, err, direction);
      throw err;
    }

    if (request !== undefined) {
      const lr = request;
      let ended: string[] | undefined;
      try {
        ended = await app.db.kysely.transaction().execute(async (trx) => {
          if (!(await recordLogoutRequest(trx, { idpIssuer: lr.issuer, requestId: lr.id, expiresAt: lr.rememberUntil }))) return undefined;
          return endSessionsForLogout(trx, { idpIssuer: lr.issuer, subject: lr.nameId, sessionIndexes: lr.sessionIndexes });
        });
      } catch (err) {
        return unavailable(req, reply, 'idp_initiated', err);
      }
      if (ended === undefined) return refuse(req, reply, new SloRejection('replay', `LogoutRequest ${request.id.slice(0, 100)} was acted on before`), 'idp_initiated');
      const result = ended.length > 0 ? 'completed' : 'no_session';
      metrics.slo.inc({ direction: 'idp_initiated', result });
      if (ended.length > 0) metrics.sessionsEnded.inc({ reason: 'idp_logout' }, ended.length);
      req.log.info({ result, sessions: ended.length, binding: message.binding }, 'IdP-initiated logout');
      audit({ event: 'slo_in', direction: 'idp_initiated', result, subject: request.nameId, revoked: ended.length, client: req.clientAddress, request_id: req.id });
      const location = redirectUrl(cfg.idpSloUrl, 'SAMLResponse', buildLogoutResponse(cfg, request.id, undefined, now), cfg.spSigningKey, message.relayState);
      return reply.code(302).headers(NO_STORE).header('set-cookie', clear).header('location', location).send();
    }

    const answer = response!;
    let pending;
    try {
      pending = await consumePendingLogout(app.db.kysely, answer.inResponseTo, cfg.idpIssuer);
    } catch (err) {
      return unavailable(req, reply, 'sp_initiated', err);
    }
    if (pending === undefined) {
      return refuse(req, reply, new SloRejection('unknown_in_response_to', `LogoutResponse InResponseTo ${answer.inResponseTo.slice(0, 100)} names no outstanding logout request`), 'sp_initiated');
    }
    const result = answer.success ? 'completed' : 'partial';
    metrics.slo.inc({ direction: 'sp_initiated', result });
    audit({ event: 'slo_out', direction: 'sp_initiated', result, client: req.clientAddress, request_id: req.id });
    reply.header('set-cookie', clear);
    if (answer.success && pending.returnUrl !== null) return reply.code(303).headers(NO_STORE).header('location', pending.returnUrl).send();
    return sendPage(req, reply, answer.success ? PAGES.signedOut : PAGES.partial);
  };

  const routeConfig = { rateLimit: routeRateLimit(config) };
  const responses = { 200: ErrorBody, 302: NoBody, 303: NoBody, 400: ErrorBody, 403: ErrorBody, 429: ErrorBody, 503: ErrorBody };
  // The query is read raw: the HTTP-Redirect signature covers the parameters exactly as sent.
  app.get('/saml/slo', { config: routeConfig, schema: { response: responses } }, async (req, reply) => {
    const url = req.raw.url ?? '';
    const q = url.indexOf('?');
    return handle(req, reply, { binding: 'redirect', rawQuery: q === -1 ? '' : url.slice(q + 1) });
  });
  // A body outside the schema (a repeated or unknown field) is a refused message like any other: a page, counted.
  app.post('/saml/slo', { config: routeConfig, attachValidation: true, schema: { body: SloBody, response: responses } }, async (req, reply) => {
    if (req.validationError) return refuse(req, reply, new SloRejection('wrong_binding', 'the form is not one SAMLRequest or SAMLResponse with an optional RelayState'), 'idp_initiated');
    return handle(req, reply, { binding: 'post', ...req.body });
  });
};

export default slo;

type SloSettings = SamlSettings & { idpSloUrl: string; spSigningKey: string; spSigningCert: string };

/**
 * The logout message verified with the certificates of one configured IdP with SLO: the only one, or
 * the one the message's Issuer names (read unverified, only to choose: claimedLogoutIssuer). The
 * verified Issuer must then be that IdP's (logout-request.ts, logout-response.ts), so a message naming
 * one IdP and signed by another is refused. One verification per message, however many IdPs.
 */
function readFromSloIdps(input: SloInput, idps: IdpDirectory, maxBytes: number): { message: VerifiedLogoutMessage; cfg: SloSettings } {
  const candidates = idps.list().flatMap((i) => (i.settings !== undefined && sloEnabled(i.settings) ? [i.settings] : []));
  const issuer = candidates.length > 1 ? claimedLogoutIssuer(input, maxBytes) : null;
  const cfg = issuer === null ? candidates[0] : candidates.find((c) => c.idpIssuer === issuer);
  if (cfg === undefined) throw new SloRejection('wrong_issuer', candidates.length === 0 ? 'no configured IdP has Single Logout' : 'the logout message names no configured IdP with Single Logout');
  return { message: readLogoutMessage(input, cfg), cfg };
}
