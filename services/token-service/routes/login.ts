import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { buildLoginRedirect } from '../saml/login.js';
import { saveRequestId } from '../store/saml.js';
import { isAllowedReturnUrl } from './return-url.js';
import { ErrorBody, NO_STORE, type RouteContext } from './context.js';

/**
 * GET /saml/login?rd=… — SP-initiated login: redirects to the IdP with an AuthnRequest whose id is kept
 * in Postgres (any replica can finish the login). `rd` becomes the RelayState only when allowed.
 */
const login: FastifyPluginAsync<RouteContext> = async (app, { config }) => {
  app.get(
    '/saml/login',
    {
      config: { rateLimit: { max: config.rateLimit.max, timeWindow: config.rateLimit.windowSeconds * 1000 } },
      schema: {
        querystring: Type.Object({ rd: Type.Optional(Type.String({ maxLength: 2048 })) }, { additionalProperties: false }),
        response: { 302: Type.Null(), 400: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const { rd } = req.query as { rd?: string };
      if (rd !== undefined && rd !== '' && !isAllowedReturnUrl(rd, config.allowedReturnUrls)) {
        return reply.code(400).send({ error: 'return_url_not_allowed', message: 'rd is not an allowed return URL' });
      }
      const redirect = await buildLoginRedirect(config.saml, rd || undefined);
      try {
        await saveRequestId(app.db.kysely, redirect.requestId, redirect.expiresAt);
      } catch (err) {
        req.log.error({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'login not started: database unavailable');
        return reply.code(503).send({ error: 'service_unavailable', message: 'service temporarily unavailable' });
      }
      return reply.code(302).headers(NO_STORE).header('location', redirect.url).send();
    },
  );
};

export default login;
