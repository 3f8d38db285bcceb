import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { buildLoginRedirect } from '../saml/login.js';
import { saveRequestIdBounded } from '../store/saml.js';
import { allowedReturnUrl } from './return-url.js';
import { clientNetwork } from './client-network.js';
import { newLoginState } from './login-state.js';
import { ErrorBody, NO_STORE, routeRateLimit, type RouteContext } from './context.js';

/**
 * GET /saml/login?rd=… — SP-initiated login: redirects to the IdP with an AuthnRequest whose id is kept
 * in Postgres (any replica can finish the login), bound to this browser by a login-state cookie (see
 * login-state.ts) and counted against the client's network: past SAML_MAX_PENDING_LOGINS unused
 * requests, 429 and nothing written. `rd` becomes the RelayState only when allowed, in its encoded form.
 *
 * A browser starts a sign-in by navigating its top-level page. A request that a browser says is a
 * script's fetch, an image or a frame (`Sec-Fetch-Dest` other than `document`) is refused with 403 and
 * nothing written: a page's API calls that NGINX redirects here after a 401, or another site's hidden
 * requests, would otherwise each leave a request id (and a state cookie) behind and use up the network's
 * outstanding sign-ins. Clients that send no `Sec-Fetch-Dest` (programs, old browsers) are not affected.
 */
const login: FastifyPluginAsync<RouteContext> = async (app, { config, metrics, audit }) => {
  const ttl = config.saml.authnRequestTtlSeconds;
  app.get(
    '/saml/login',
    {
      config: { rateLimit: routeRateLimit(config) },
      schema: {
        querystring: Type.Object({ rd: Type.Optional(Type.String({ maxLength: 2048 })) }, { additionalProperties: false }),
        response: { 302: Type.Null(), 400: ErrorBody, 403: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const dest = req.headers['sec-fetch-dest'];
      if (dest !== undefined && dest !== 'document') {
        metrics.redeemRefused.inc({ reason: 'not_a_navigation' });
        return reply.code(403).headers(NO_STORE)
          .send({ error: 'not_a_navigation', message: 'a sign-in starts from a page the browser navigates to, not from a script, an image or a frame' });
      }
      const { rd } = req.query as { rd?: string };
      const returnTo = rd === undefined || rd === '' ? undefined : allowedReturnUrl(rd, config.allowedReturnUrls);
      if (rd !== undefined && rd !== '' && returnTo === undefined) {
        metrics.redeemRefused.inc({ reason: 'return_url_not_allowed' });
        return reply.code(400).headers(NO_STORE).send({ error: 'return_url_not_allowed', message: 'rd is not an allowed return URL' });
      }
      const redirect = await buildLoginRedirect(config.saml, returnTo);
      const state = newLoginState(redirect.requestId, ttl);
      const network = clientNetwork(req.clientAddress);
      let saved: boolean;
      try {
        saved = await saveRequestIdBounded(app.db.kysely, {
          requestId: redirect.requestId,
          expiresAt: redirect.expiresAt,
          binding: { stateHash: state.stateHash, clientNetwork: network },
          max: config.maxPendingLogins,
        });
      } catch (err) {
        req.log.error({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'login not started: database unavailable');
        return reply.code(503).headers(NO_STORE).send({ error: 'service_unavailable', message: 'service temporarily unavailable' });
      }
      if (!saved) {
        metrics.redeemRefused.inc({ reason: 'too_many_pending_logins' });
        audit({ event: 'redeem_refused', reason: 'too_many_pending_logins', client: req.clientAddress, request_id: req.id });
        return reply.code(429).headers(NO_STORE).header('retry-after', String(ttl))
          .send({ error: 'too_many_pending_logins', message: 'too many sign-ins started from this network; try again in a few minutes' });
      }
      return reply.code(302).headers(NO_STORE).header('set-cookie', state.setCookie).header('location', redirect.url).send();
    },
  );
};

export default login;
