import type { FastifyPluginAsync } from 'fastify';
import { presentedToken, serializeCookie } from '../../shared/cookies.js';
import { TokenVerifier } from '../../shared/jwt-verify.js';
import { verificationKeysOf } from '../../shared/jwt-keys.js';
import { revokeToken } from '../store/tokens.js';
import { ErrorBody, NO_STORE, routeRateLimit, type RouteContext } from './context.js';

/**
 * POST /logout — revokes the presented token (bearer or cookie; no body) and clears the cookie. The
 * token must verify against our own keys: nobody revokes a token by guessing its id. A request carrying
 * the session cookie twice (one set by another site) is refused: 400, nothing revoked, our cookie cleared.
 */
const logout: FastifyPluginAsync<RouteContext> = async (app, { config, metrics, audit }) => {
  const verifier = new TokenVerifier(
    verificationKeysOf(config.jwt.keys),
    { issuer: config.jwt.issuer, audience: config.jwt.audience, clockToleranceSeconds: 5, cacheSize: 0 },
  );
  const clear = serializeCookie(config.cookie.name, '', { ...config.cookie, maxAgeSeconds: 0 });

  app.post(
    '/logout',
    {
      config: { rateLimit: routeRateLimit(config) },
      schema: { response: { 204: { type: 'null' }, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody, 503: ErrorBody } },
    },
    async (req, reply) => {
      reply.headers(NO_STORE).header('set-cookie', clear);
      const presented = presentedToken(req.headers.authorization, req.headers.cookie, config.cookie.name);
      if (presented.kind === 'ambiguous') {
        req.log.info({ reason: 'ambiguous_cookie' }, 'logout refused: the session cookie was sent more than once');
        return reply.code(400).send({ error: 'ambiguous_cookie', message: 'the session cookie was sent more than once' });
      }
      const result = presented.kind === 'none' ? undefined : verifier.verify(presented.token);
      if (!result?.ok) {
        const reason = result?.reason ?? 'no_token';
        req.log.info({ reason }, 'logout without a valid token');
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'invalid_token', message: 'no valid token presented' });
      }
      const { subject: sub, jti } = result.claims;
      let revoked: boolean;
      try {
        revoked = await revokeToken(app.db.kysely, jti, 'logout');
      } catch (err) {
        req.log.error({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'logout failed: database unavailable');
        return reply.code(503).send({ error: 'service_unavailable', message: 'service temporarily unavailable; the token was not revoked' });
      }
      if (revoked) {
        metrics.revocations.inc({ source: 'logout' });
        audit({ event: 'token_revoked', subject: sub, jti, reason: 'logout', client: req.clientAddress, request_id: req.id });
      }
      return reply.code(204).send();
    },
  );
};

export default logout;
