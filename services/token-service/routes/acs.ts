import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { readCookies, serializeCookie } from '../../shared/cookies.js';
import { validateFromIdps } from '../saml/validate.js';
import { SamlRejection, type SamlRejectReason } from '../saml/reasons.js';
import { outstandingRequest } from '../store/saml.js';
import { recordSignIn } from '../store/sign-in.js';
import { newSessionSecret, sessionCookie } from '../sessions/cookie.js';
import { sendPage, signInHref, signInRefusedPage } from '../pages/pages.js';
import { code, page, paragraph } from '../pages/html.js';
import type { IssuedToken } from '../tokens/issuer.js';
import type { IdpEntry } from '../idps/types.js';
import { NO_IDP } from '../metrics.js';
import { filterGroups } from '../tokens/groups-filter.js';
import { oversize } from '../tokens/size.js';
import { allowedReturnUrl } from './return-url.js';
import { clearLoginState, loginStateCookieName, presentedLoginState } from './login-state.js';
import { ErrorBody, NoBody, NO_STORE, routeRateLimit, samlBodyLimit, type RouteContext } from './context.js';
import { databaseUnavailable, unavailableBody } from './unavailable.js';

const AcsBody = Type.Object(
  {
    // Not empty nor only white space: a pattern decided at the first character, where `minLength: 1`
    // would count the code points of 10-40 kB of base64 on every sign-in (ajv's ucs2length).
    SAMLResponse: Type.String({ pattern: '\\S' }),
    RelayState: Type.Optional(Type.String({ maxLength: 2048 })),
  },
  { additionalProperties: false },
);

const TokenBody = Type.Object(
  { access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer(), expires_at: Type.String() },
  { additionalProperties: false },
);

const GENERIC_401 = { error: 'invalid_saml_response', message: 'the SAML response was not accepted' };
const TOO_MANY_GROUPS_PAGE = '<!doctype html><title>Sign-in not completed</title><h1>Sign-in not completed</h1>'
  + '<p>Your account details (usually: the groups you belong to) are more than this sign-in can carry, so you were not signed in. Signing in again will not help.</p>'
  + '<p>Please contact your administrator and mention <code>token_too_large</code>.</p>\n';

/** transient_name_id: what to change at the IdP, for the person to pass on (docs/single-logout.md has the settings per IdP). */
const transientNameIdPage = (requestId: string): string => page('Sign-in not completed', [
  paragraph('Your identity provider sent a temporary identifier (a transient NameID) that changes at every sign-in, so this service cannot recognise you. Signing in again will not help.'),
  paragraph('Please tell your administrator: in the identity provider, set this application\'s NameID format to the one in this service\'s SAML metadata (usually the email address), not transient. Mention ', code('transient_name_id'), ' and this reference: ', code(requestId), '.'),
]);
const TRANSIENT_JSON = {
  error: 'transient_name_id',
  message: 'the identity provider sent a transient NameID; configure the application at the IdP to send the NameID format in the SP metadata (SAML_NAMEID_FORMAT)',
};

/** A browser form post (HTML accepted, JSON not asked for) gets a cookie; API clients get JSON. */
function wantsJson(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') || !accept.includes('text/html');
}

/**
 * POST /saml/acs — the Assertion Consumer Service. Validates the SAML response completely (and, for a
 * browser answering a request, the login state), then in one statement spends the InResponseTo
 * request id, records the assertion id (replay) and writes the session and the token row; only after it
 * has committed does the client see the token. Postgres failing means 503 and no token.
 */
const acs: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { config, metrics, audit } = ctx;

  const refuse = (req: FastifyRequest, reply: FastifyReply, reason: SamlRejectReason, detail: string, who: { subject?: string; idp?: IdpEntry } = {}) => {
    metrics.samlRejected.inc({ reason });
    metrics.signIns.inc({ idp: who.idp?.name ?? NO_IDP, result: 'refused' });
    req.log.info({ reason, detail, idp: who.idp?.name ?? null }, 'SAML response refused');
    audit({ event: 'saml_refused', reason, subject: who.subject ?? null, idp: who.idp?.entityId ?? null, client: req.clientAddress, request_id: req.id });
    // An IdP setting, not a bad document: say what to change (403, like token_too_large).
    if (reason === 'transient_name_id') {
      if (!wantsJson(req)) return sendPage(reply, 403, transientNameIdPage(req.id));
      return reply.code(403).headers(NO_STORE).send(TRANSIENT_JSON);
    }
    if (!wantsJson(req)) return sendPage(reply, 401, signInRefusedPage(req.id, signInHref(undefined)));
    return reply.code(401).headers(NO_STORE).send(GENERIC_401);
  };

  app.post(
    '/saml/acs',
    {
      bodyLimit: samlBodyLimit(config),
      config: { rateLimit: routeRateLimit(config) },
      onRequest: app.redeemAllowlist,
      schema: {
        body: AcsBody,
        // 200 and 403: JSON for programs, a page (a string, sent as it is) for browsers.
        response: { 200: Type.Union([TokenBody, Type.String()]), 303: NoBody, 400: ErrorBody, 401: ErrorBody, 403: Type.Union([ErrorBody, Type.String()]), 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const { SAMLResponse, RelayState } = req.body;
      const json = wantsJson(req);
      // Everything that can refuse or fail is settled before the request id and the assertion are spent
      // and the token row is written: after the commit, only ready-made strings are sent.
      const returnTo = RelayState === undefined || RelayState === '' ? undefined : allowedReturnUrl(RelayState, config.allowedReturnUrls);
      if (RelayState !== undefined && RelayState !== '' && returnTo === undefined) {
        metrics.redeemRefused.inc({ reason: 'return_url_not_allowed' });
        audit({ event: 'redeem_refused', reason: 'return_url_not_allowed', client: req.clientAddress, request_id: req.id });
        return reply.code(400).headers(NO_STORE).send({ error: 'return_url_not_allowed', message: 'RelayState is not an allowed return URL' });
      }

      const endValidation = metrics.samlValidation.startTimer();
      let assertion;
      let idp: IdpEntry;
      try {
        ({ assertion, idp } = await validateFromIdps(SAMLResponse, config.sp, ctx.idps));
      } catch (err) {
        if (err instanceof SamlRejection) return refuse(req, reply, err.reason, err.detail, err.idp === undefined ? {} : { idp: err.idp });
        throw err;
      } finally {
        endValidation();
      }
      const who = { subject: assertion.nameId, idp };

      // Login CSRF: a session cookie for a response that answers a request goes only to the browser that
      // started that request (login-state.ts). JSON delivery sets no cookie in anyone's browser.
      const requestId = assertion.inResponseTo;
      if (requestId !== null && readCookies(req.headers.cookie, loginStateCookieName(requestId)).length > 0) {
        reply.header('set-cookie', clearLoginState(requestId));
      }
      const stateHash = requestId !== null && !json ? presentedLoginState(req.headers.cookie, requestId) : undefined;
      if (requestId !== null && !json && stateHash === undefined) {
        return refuse(req, reply, 'login_state_mismatch', `no login state for request ${requestId.slice(0, 100)}`, who);
      }

      // The session: at most SESSION_MAX_LIFETIME_SECONDS, never past the IdP's SessionNotOnOrAfter.
      const startedAt = new Date();
      const maxEnd = startedAt.getTime() + config.session.maxLifetimeSeconds * 1000;
      const idpEnd = assertion.sessionNotOnOrAfter?.getTime() ?? Number.POSITIVE_INFINITY;
      const sessionEnd = new Date(Math.min(maxEnd, idpEnd));
      if (sessionEnd.getTime() - startedAt.getTime() < 5000) {
        return refuse(req, reply, 'expired', 'AuthnStatement SessionNotOnOrAfter leaves no session', who);
      }
      const sid = randomUUID();
      // Browsers get a renewal secret; a program's session (JSON delivery) cannot be renewed.
      const secret = json ? undefined : newSessionSecret();

      const groups = filterGroups(config.groupsFilter, assertion.groups);
      const endSigning = metrics.signing.startTimer();
      const issued: IssuedToken = ctx.issue({ subject: assertion.nameId, email: assertion.email, groups, sid, idp: assertion.issuer, notAfter: sessionEnd });
      endSigning();
      // Never issue a token that a browser or /auth would drop (a sign-in loop): refused before
      // anything is written, so the assertion is not spent and the request id stays outstanding.
      const tooLarge = oversize(issued.token, config.cookie.name);
      if (tooLarge) {
        const reason = 'token_too_large';
        metrics.samlRejected.inc({ reason });
        metrics.signIns.inc({ idp: idp.name, result: 'refused' });
        req.log.warn({ reason, groups: assertion.groups.length, groupsKept: groups.length, bytes: tooLarge.bytes, limit: tooLarge.limit }, 'token not issued: too large');
        audit({ event: 'saml_refused', reason, subject: assertion.nameId, idp: idp.entityId, client: req.clientAddress, request_id: req.id });
        reply.code(403).headers(NO_STORE);
        if (json) return reply.send({ error: reason, message: 'the token would be too large (usually: too many groups); the administrator can limit the groups with SAML_GROUPS_FILTER' });
        return reply.type('text/html; charset=utf-8').send(TOO_MANY_GROUPS_PAGE);
      }
      const replayUntil = new Date(assertion.notOnOrAfter.getTime() + config.sp.clockSkewSeconds * 1000);
      const expiresIn = Math.round((issued.expiresAt.getTime() - issued.issuedAt.getTime()) / 1000);
      const tokenCookie = json ? undefined : serializeCookie(config.cookie.name, issued.token, { ...config.cookie, maxAgeSeconds: expiresIn });
      const renewalCookie = secret === undefined ? undefined : sessionCookie(config, secret.secret, sessionEnd, startedAt);
      const target = returnTo ?? config.defaultReturnUrl;

      try {
        // One statement (store/sign-in.ts): all of it is written or nothing is; a refusal is thrown and
        // answered below. Nothing was spent then: the request id stays outstanding.
        const { consumed, recorded } = await recordSignIn(app.db.kysely, {
          request: requestId === null ? null : { requestId, idpIssuer: assertion.issuer, ...(stateHash === undefined ? {} : { stateHash }) },
          assertion: { assertionId: assertion.assertionId, idpIssuer: assertion.issuer, jti: issued.jti, expiresAt: replayUntil },
          session: {
            sid,
            secretHash: secret?.hash ?? null,
            subject: assertion.nameId,
            email: assertion.email,
            groups,
            idpIssuer: assertion.issuer,
            sessionIndex: assertion.sessionIndex,
            nameIdFormat: assertion.nameIdFormat ?? null,
            clientAddress: req.clientAddress,
            createdAt: startedAt,
            idleExpiresAt: new Date(startedAt.getTime() + config.session.idleTimeoutSeconds * 1000),
            expiresAt: sessionEnd,
          },
          token: {
            sid,
            jti: issued.jti,
            subject: assertion.nameId,
            email: assertion.email,
            groups,
            idpIssuer: assertion.issuer,
            sessionIndex: assertion.sessionIndex,
            clientAddress: req.clientAddress,
            issuedAt: issued.issuedAt,
            expiresAt: issued.expiresAt,
          },
        });
        if (requestId !== null && !consumed) {
          const outstanding = await outstandingRequest(app.db.kysely, requestId);
          const reason = outstanding === undefined ? 'unknown_in_response_to'
            : outstanding.idpIssuer !== null && outstanding.idpIssuer !== assertion.issuer ? 'idp_mismatch'
              : stateHash !== undefined ? 'login_state_mismatch' : 'unknown_in_response_to';
          throw new SamlRejection(reason, `${reason} for assertion ${assertion.assertionId}`);
        }
        if (!recorded) throw new SamlRejection('replay', `replay for assertion ${assertion.assertionId}`);
      } catch (err) {
        if (err instanceof SamlRejection) return refuse(req, reply, err.reason, err.detail, who);
        databaseUnavailable(req, err, 'token not issued');
        metrics.redeemRefused.inc({ reason: 'database_unavailable' });
        return reply.code(503).headers(NO_STORE).send(unavailableBody('no token was issued'));
      }

      metrics.issued.inc();
      metrics.signIns.inc({ idp: idp.name, result: 'issued' });
      metrics.sessionsStarted.inc();
      audit({ event: 'session_started', subject: assertion.nameId, sid, idp: idp.entityId, client: req.clientAddress, request_id: req.id });
      audit({ event: 'token_issued', subject: assertion.nameId, jti: issued.jti, sid, idp: idp.entityId, client: req.clientAddress, request_id: req.id });
      if (tokenCookie === undefined || renewalCookie === undefined) {
        return reply.code(200).headers(NO_STORE).send({
          access_token: issued.token,
          token_type: 'Bearer' as const,
          expires_in: expiresIn,
          expires_at: issued.expiresAt.toISOString(),
        });
      }
      // Fastify keeps an earlier set-cookie (clearing a login state) and adds these.
      reply.header('set-cookie', tokenCookie).header('set-cookie', renewalCookie).headers(NO_STORE);
      if (target) return reply.code(303).header('location', target).send();
      return reply.code(200).type('text/html; charset=utf-8').send('<!doctype html><title>Signed in</title><p>Signed in. You can close this page.</p>\n');
    },
  );
};

export default acs;
