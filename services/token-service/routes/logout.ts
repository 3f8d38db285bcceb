import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { presentedToken } from '../../shared/cookies.js';
import { TokenVerifier } from '../../shared/jwt-verify.js';
import { verificationKeysOf } from '../../shared/jwt-keys.js';
import { revokeToken } from '../store/tokens.js';
import { endSessionWithTokens, findSession, findSessionBySecret, type SessionRow } from '../store/sessions.js';
import { clearedCookies, presentedSession } from '../sessions/cookie.js';
import { confirmSignOutPage, sendPage, signInHref, signedOutPage, wantsHtml } from '../pages/pages.js';
import { allowedReturnUrl } from './return-url.js';
import { continueSignOutAtIdp } from './logout-continuation.js';
import { ErrorBody, NoBody, NO_STORE, routeRateLimit, type RouteContext } from './context.js';
import { databaseUnavailable, unavailableBody } from './unavailable.js';

const Rd = Type.Optional(Type.String({ maxLength: 2048 }));

/**
 * Sign-out. `POST /logout` ends the whole session of the presented credential — the session cookie, else
 * the token's `sid` (a token from before sessions: that token alone) — revoking every token of it (the
 * database notifies every authz replica), and clears both cookies.
 *
 * Programs (no text/html in Accept) keep the API: 204, 401 without a valid token, 400 for a duplicated
 * cookie. A browser always lands somewhere a person understands: the IdP's sign-out when SLO is configured
 * (logout-continuation.ts), else the allowed `rd` (form field or query), else the signed-out page — even
 * when it was signed out already. A browser's cross-site POST (`Sec-Fetch-Site: cross-site`: another site's
 * form) signs nobody out and gets the confirmation page instead; so does `GET /logout`, since a link or an
 * image must never sign anyone out.
 */
const logout: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { config, metrics, audit } = ctx;
  const verifier = new TokenVerifier(
    verificationKeysOf(config.jwt.keys),
    { issuer: config.jwt.issuer, audience: config.jwt.audience, clockToleranceSeconds: 5, cacheSize: 0 },
  );
  const cleared = clearedCookies(config);
  const returnUrl = (rd: string | undefined) => (rd === undefined || rd === '' ? undefined : allowedReturnUrl(rd, config.allowedReturnUrls));

  /** Ends a session and audits it; the row, when it was live. */
  const end = async (req: FastifyRequest, session: SessionRow): Promise<SessionRow | undefined> => {
    const { ended, jtis } = await endSessionWithTokens(app.db.kysely, session.sid, 'sign_out', 'logout');
    if (!ended) return undefined;
    metrics.sessionsEnded.inc({ reason: 'sign_out' });
    metrics.revocations.inc({ source: 'logout' }, jtis.length);
    audit({ event: 'session_ended', subject: session.subject, sid: session.sid, reason: 'sign_out', client: req.clientAddress, request_id: req.id });
    for (const jti of jtis) audit({ event: 'token_revoked', subject: session.subject, jti, sid: session.sid, reason: 'logout', client: req.clientAddress, request_id: req.id });
    return session;
  };

  app.get(
    '/logout',
    {
      config: { rateLimit: routeRateLimit(config) },
      schema: {
        querystring: Type.Object({ rd: Rd }, { additionalProperties: false }),
        response: { 200: Type.String(), 405: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      if (!wantsHtml(req)) return reply.code(405).headers(NO_STORE).header('allow', 'POST').send({ error: 'method_not_allowed', message: 'sign out with POST /logout' });
      return sendPage(reply, 200, confirmSignOutPage(returnUrl(req.query.rd)));
    },
  );

  app.post(
    '/logout',
    {
      config: { rateLimit: routeRateLimit(config) },
      schema: {
        querystring: Type.Object({ rd: Rd }, { additionalProperties: false }),
        response: { 200: Type.String(), 204: NoBody, 303: NoBody, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const browser = wantsHtml(req);
      const rd = formRd(req.body) ?? req.query.rd;
      if (browser && req.headers['sec-fetch-site'] === 'cross-site') {
        req.log.info({ reason: 'cross_site' }, 'sign-out not done: a cross-site form; confirmation asked');
        return sendPage(reply, 200, confirmSignOutPage(returnUrl(rd)));
      }
      reply.headers(NO_STORE);
      for (const c of cleared) reply.header('set-cookie', c);
      const presented = presentedToken(req.headers.authorization, req.headers.cookie, config.cookie.name);
      const cookieSession = presentedSession(req.headers.cookie, config);
      if (!browser && presented.kind === 'ambiguous') {
        req.log.info({ reason: 'ambiguous_cookie' }, 'logout refused: the session cookie was sent more than once');
        return reply.code(400).send({ error: 'ambiguous_cookie', message: 'the session cookie was sent more than once' });
      }
      const result = presented.kind === 'token' ? verifier.verify(presented.token) : undefined;
      const claims = result?.ok ? result.claims : undefined;

      const ended: SessionRow[] = [];
      let revokedToken = false;
      try {
        // The browser's session (its renewal cookie), then the token's own session, if another.
        const sessions: SessionRow[] = [];
        if (cookieSession.kind === 'secret') {
          const s = await findSessionBySecret(app.db.kysely, cookieSession.hash);
          if (s !== undefined) sessions.push(s);
        }
        const sid = claims?.sid;
        if (sid !== null && sid !== undefined && !sessions.some((s) => s.sid === sid)) {
          const s = await findSession(app.db.kysely, sid);
          if (s !== undefined) sessions.push(s);
        }
        for (const s of sessions) {
          const done = await end(req, s);
          if (done !== undefined) ended.push(done);
        }
        if (claims !== undefined && (sid === null || sid === undefined) && (await revokeToken(app.db.kysely, claims.jti, 'logout'))) {
          revokedToken = true;
          metrics.revocations.inc({ source: 'logout' });
          audit({ event: 'token_revoked', subject: claims.subject, jti: claims.jti, reason: 'logout', client: req.clientAddress, request_id: req.id });
        }
      } catch (err) {
        databaseUnavailable(req, err, 'logout failed');
        return reply.code(503).headers(NO_STORE).send(unavailableBody('the session was not ended'));
      }

      if (!browser) {
        if (claims === undefined) {
          req.log.info({ reason: result?.ok === false ? result.reason : 'no_token' }, 'logout without a valid token');
          return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'invalid_token', message: 'no valid token presented' });
        }
        return reply.code(204).send();
      }
      req.log.info({ sessions: ended.length, token: revokedToken }, 'browser signed out');
      const returnTo = returnUrl(rd);
      if (rd !== undefined && rd !== '' && returnTo === undefined) req.log.info({ reason: 'return_url_not_allowed' }, 'sign-out rd ignored');
      const next = await continueSignOutAtIdp(ctx, req, ended, returnTo);
      if (next !== undefined) return reply.code(303).header('location', next).send();
      if (returnTo !== undefined) return reply.code(303).header('location', returnTo).send();
      return sendPage(reply, 200, signedOutPage(signInHref(undefined)));
    },
  );
};

export default logout;

/** The `rd` field of a sign-out form (the body has no schema: any form or JSON body may carry it). */
function formRd(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null && 'rd' in body && typeof body.rd === 'string' ? body.rd : undefined;
}
