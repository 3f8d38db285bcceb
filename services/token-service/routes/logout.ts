import type { FastifyPluginAsync } from 'fastify';
import { presentedToken, serializeCookie } from '../../shared/cookies.js';
import { TokenVerifier } from '../../shared/jwt-verify.js';
import { verificationKeysOf } from '../../shared/jwt-keys.js';
import { revokeToken } from '../store/tokens.js';
import { ErrorBody, NO_STORE, type RouteContext } from './context.js';

/**
 * POST /logout — revokes the presented token (bearer or cookie; no body) and clears the cookie. The
 * token must verify against our own keys: nobody revokes a token by guessing its id.
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
      config: { rateLimit: { max: config.rateLimit.max, timeWindow: config.rateLimit.windowSeconds * 1000 } },
      schema: { response: { 204: { type: 'null' }, 401: ErrorBody, 429: ErrorBody, 503: ErrorBody } },
    },
    async (req, reply) => {
      reply.headers(NO_STORE).header('set-cookie', clear);
      const token = presentedToken(req.headers.authorization, req.headers.cookie, config.cookie.name);
      const result = token === undefined ? undefined : verifier.verify(token);
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
