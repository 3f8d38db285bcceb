import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { presentedToken } from '../../shared/cookies.js';
import { TokenVerifier, type VerifiedClaims } from '../../shared/jwt-verify.js';
import { verificationKeysOf } from '../../shared/jwt-keys.js';
import { liveTokenSession } from '../store/sessions.js';
import { forbiddenPage, sendPage, signInHref, wantsHtml } from '../pages/pages.js';
import { ErrorBody, NO_STORE, routeRateLimit, type RouteContext } from './context.js';
import { databaseUnavailable, unavailableBody } from './unavailable.js';

const UserInfo = Type.Object(
  {
    sub: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    groups: Type.Array(Type.String()),
    sid: Type.Union([Type.String(), Type.Null()]),
    /** The entity id of the IdP the user signed in at (null for tokens issued before tokens carried it). */
    idp: Type.Union([Type.String(), Type.Null()]),
    token_expires_at: Type.String(),
    session_expires_at: Type.Union([Type.String(), Type.Null()]),
    session_idle_expires_at: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

/**
 * Who is signed in. `GET /userinfo` (routed by the NGINX templates like /logout): the identity of the
 * presented token — bearer or cookie — while it is live in the database (not revoked, not expired, its
 * session not ended), with the session's absolute and idle ends; 401 otherwise. `GET /saml/forbidden`:
 * the page NGINX shows for a 403 (error_page), saying who is signed in and offering a sign-out button,
 * never which rule refused; JSON clients get `{"error":"forbidden"}`. Both answer 403 there.
 */
const identity: FastifyPluginAsyncTypebox<RouteContext> = async (app, { config }) => {
  const verifier = new TokenVerifier(
    verificationKeysOf(config.jwt.keys),
    { issuer: config.jwt.issuer, audience: config.jwt.audience, clockToleranceSeconds: 5, cacheSize: 0 },
  );

  /** The claims of a presented, valid, live token and its session; undefined when there is none. */
  const signedIn = async (req: FastifyRequest) => {
    const presented = presentedToken(req.headers.authorization, req.headers.cookie, config.cookie.name);
    if (presented.kind !== 'token') return undefined;
    const result = verifier.verify(presented.token);
    if (!result.ok) return undefined;
    const live = await liveTokenSession(app.db.kysely, result.claims.jti);
    return live === undefined ? undefined : { claims: result.claims, session: live.session };
  };

  app.get(
    '/userinfo',
    {
      config: { rateLimit: routeRateLimit(config) },
      schema: { response: { 200: UserInfo, 401: ErrorBody, 429: ErrorBody, 503: ErrorBody } },
    },
    async (req, reply) => {
      reply.headers(NO_STORE);
      let who: Awaited<ReturnType<typeof signedIn>>;
      try {
        who = await signedIn(req);
      } catch (err) {
        databaseUnavailable(req, err, 'userinfo failed');
        return reply.code(503).send(unavailableBody());
      }
      if (who === undefined) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'invalid_token', message: 'no valid token presented' });
      const c: VerifiedClaims = who.claims;
      return reply.code(200).send({
        sub: c.subject,
        email: c.email,
        groups: c.groups,
        sid: c.sid,
        idp: c.idp,
        token_expires_at: new Date(c.exp * 1000).toISOString(),
        session_expires_at: who.session?.expires_at.toISOString() ?? null,
        session_idle_expires_at: who.session?.idle_expires_at.toISOString() ?? null,
      });
    },
  );

  app.get(
    '/saml/forbidden',
    {
      config: { rateLimit: routeRateLimit(config) },
      // A page (text/html) or ErrorBody: no response schema, so that either serialises as given.
    },
    async (req, reply) => {
      if (!wantsHtml(req)) return reply.code(403).headers(NO_STORE).send({ error: 'forbidden', message: 'you do not have access to this resource' });
      let who: Awaited<ReturnType<typeof signedIn>>;
      try {
        who = await signedIn(req);
      } catch (err) {
        databaseUnavailable(req, err, 'forbidden page without the signed-in person');
        who = undefined; // The page still says what happened; only who is signed in is left out.
      }
      const person = who === undefined ? null : { subject: who.claims.subject, email: who.claims.email };
      return sendPage(reply, 403, forbiddenPage(person, req.id, signInHref(undefined)));
    },
  );
};

export default identity;
