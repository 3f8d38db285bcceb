import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { buildLoginRedirect } from '../saml/login.js';
import { saveRequestIdBounded } from '../store/saml.js';
import { allowedReturnUrl } from './return-url.js';
import { clientNetwork } from './client-network.js';
import { newLoginState } from './login-state.js';
import { ErrorBody, NoBody, NO_STORE, routeRateLimit, type RouteContext } from './context.js';
import { databaseUnavailable, unavailableBody } from './unavailable.js';
import { serializeCookie } from '../../shared/cookies.js';
import { clearedCookies, presentedSession } from '../sessions/cookie.js';
import { endedOnTime, renewSession, type Renewal } from '../sessions/renew.js';
import { page, paragraph } from '../pages/html.js';
import { chooseIdpPage, sendPage, sessionExpiredPage, signInHref, signInNotStartedPage, wantsHtml } from '../pages/pages.js';
import type { IdpEntry } from '../idps/types.js';

/**
 * GET /saml/login?rd=…&idp=… — SP-initiated login: redirects to the IdP with an AuthnRequest whose id is
 * kept in Postgres with the IdP it was sent to (any replica can finish the login, only that IdP can answer), bound to this browser by a login-state cookie (see
 * login-state.ts) and counted against the client's network: past SAML_MAX_PENDING_LOGINS unused
 * requests, 429 and nothing written. `rd` becomes the RelayState only when allowed, in its encoded form.
 *
 * A browser starts a sign-in by navigating its top-level page. A request that a browser says is a
 * script's fetch, an image or a frame (`Sec-Fetch-Dest` other than `document`) is refused with 403 and
 * nothing written: a page's API calls that NGINX redirects here after a 401, or another site's hidden
 * requests, would otherwise each leave a request id (and a state cookie) behind and use up the network's
 * outstanding sign-ins. Clients that send no `Sec-Fetch-Dest` (programs, old browsers) are not affected.
 *
 * Silent renewal: a browser presenting its session cookie (sessions/cookie.ts) for a live session gets
 * a new token cookie and a 303 back to `rd`, without the IdP. A session found idle or past its absolute
 * end is ended now; a browser then sees the "session expired" page, whose link comes back with
 * `reauth=1`. Whenever the browser presented a session that can no longer be renewed (idle, expired,
 * signed out, revoked, unknown), or `reauth=1` is given, the AuthnRequest carries ForceAuthn="true":
 * the IdP asks for the password again instead of answering from its own session.
 *
 * Several IdPs (SAML_IDPS_FILE): `idp` names one (short name or entity id); without it, the only IdP, or
 * the IdP of the session being signed in again, or else a chooser page (one plain link per IdP, no
 * script). An unknown `idp` is 400; an IdP whose metadata was never fetched is 503.
 */
const login: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { config, metrics, audit } = ctx;
  const ttl = config.sp.authnRequestTtlSeconds;
  const signedInPage = page('Signed in', [paragraph('You are signed in. You can close this page.')]);
  const unavailable = (req: FastifyRequest, reply: FastifyReply) => (wantsHtml(req)
    ? sendPage(reply, 503, signInNotStartedPage('service_unavailable', req.id))
    : reply.code(503).headers(NO_STORE).send(unavailableBody()));

  /** Renews from the session cookie, if any: a reply when settled here, or whether to force re-authentication. */
  const tryRenew = async (req: FastifyRequest, reply: FastifyReply, returnTo: string | undefined): Promise<{ done: FastifyReply } | { forceAuthn: boolean; idp?: string }> => {
    const presented = presentedSession(req.headers.cookie, config);
    if (presented.kind === 'none') return { forceAuthn: false };
    if (presented.kind !== 'secret') {
      // Two session cookies (one tossed by a sibling site) or a garbled one: never renewed; ours is cleared.
      metrics.sessionRenewals.inc({ result: presented.kind });
      req.log.info({ reason: presented.kind }, 'session not renewed: unreadable session cookie');
      reply.header('set-cookie', clearedCookies(config)[1]);
      return { forceAuthn: false };
    }
    let renewal: Renewal;
    try {
      renewal = await renewSession(app.db.kysely, presented.hash, {
        now: new Date(),
        idleTimeoutSeconds: config.session.idleTimeoutSeconds,
        clientAddress: req.clientAddress,
        issue: ctx.issue,
        idpConfigured: (entityId) => ctx.idps.byEntityId(entityId) !== undefined,
      });
    } catch (err) {
      databaseUnavailable(req, err, 'session not renewed');
      metrics.sessionRenewals.inc({ result: 'database_unavailable' });
      return { done: unavailable(req, reply) };
    }
    metrics.sessionRenewals.inc({ result: renewal.result });
    if (renewal.result === 'renewed') {
      const { issued, session } = renewal;
      metrics.issued.inc();
      audit({ event: 'session_renewed', subject: session.subject, sid: session.sid, jti: issued.jti, client: req.clientAddress, request_id: req.id });
      const maxAgeSeconds = Math.round((issued.expiresAt.getTime() - issued.issuedAt.getTime()) / 1000);
      reply.headers(NO_STORE).header('set-cookie', serializeCookie(config.cookie.name, issued.token, { ...config.cookie, maxAgeSeconds }));
      const target = returnTo ?? config.defaultReturnUrl;
      if (target) return { done: reply.code(303).header('location', target).send() };
      return { done: sendPage(reply, 200, signedInPage) };
    }
    for (const c of clearedCookies(config)) reply.header('set-cookie', c);
    if (renewal.result === 'idle' || renewal.result === 'expired' || renewal.result === 'idp_removed') {
      metrics.sessionsEnded.inc({ reason: renewal.result });
      audit({ event: 'session_ended', subject: renewal.session.subject, sid: renewal.session.sid, reason: renewal.result, client: req.clientAddress, request_id: req.id });
    }
    const onTime = renewal.result === 'idle' || renewal.result === 'expired' ? renewal.result
      : renewal.result === 'ended' && endedOnTime(renewal.session) ? (renewal.session.end_reason as 'idle' | 'expired') : undefined;
    if (onTime !== undefined && wantsHtml(req)) {
      const href = signInHref(returnTo, { reauth: '1' });
      return { done: sendPage(reply, 200, sessionExpiredPage(onTime, href, Math.round(config.session.idleTimeoutSeconds / 60))) };
    }
    // Signing in again: at the IdP of the session that could not be renewed, unless the link names one.
    return { forceAuthn: true, ...(renewal.result === 'unknown' ? {} : { idp: renewal.session.idp_issuer }) };
  };

  /**
   * The IdP to sign in at: the one `idp` names (its short name or entity id), else the only one, else
   * the one of the session being signed in again; otherwise a chooser page (browsers) or 400 (programs).
   */
  const chooseIdp = (req: FastifyRequest, reply: FastifyReply, named: string | undefined, sessionIdp: string | undefined, returnTo: string | undefined, extra: Record<string, string>): { idp: IdpEntry } | { done: FastifyReply } => {
    const all = ctx.idps.list();
    const idp = named !== undefined && named !== ''
      ? ctx.idps.byName(named) ?? ctx.idps.byEntityId(named)
      : all.length === 1 ? all[0] : sessionIdp === undefined ? undefined : ctx.idps.byEntityId(sessionIdp);
    if (idp !== undefined) return { idp };
    if (named !== undefined && named !== '') {
      metrics.redeemRefused.inc({ reason: 'unknown_idp' });
      if (wantsHtml(req)) return { done: sendPage(reply, 400, signInNotStartedPage('unknown_idp', req.id)) };
      return { done: reply.code(400).headers(NO_STORE).send({ error: 'unknown_idp', message: 'idp names no configured identity provider' }) };
    }
    if (wantsHtml(req)) return { done: sendPage(reply, 200, chooseIdpPage(all, returnTo, extra)) };
    return { done: reply.code(400).headers(NO_STORE).send({ error: 'idp_required', message: `several identity providers are configured; name one with idp= (${all.map((i) => i.name).join(', ')})` }) };
  };

  app.get(
    '/saml/login',
    {
      config: { rateLimit: routeRateLimit(config) },
      schema: {
        querystring: Type.Object(
          { rd: Type.Optional(Type.String({ maxLength: 2048 })), reauth: Type.Optional(Type.Literal('1')), idp: Type.Optional(Type.String({ maxLength: 1024 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.String(), 302: NoBody, 303: NoBody, 400: ErrorBody, 403: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const dest = req.headers['sec-fetch-dest'];
      if (dest !== undefined && dest !== 'document') {
        metrics.redeemRefused.inc({ reason: 'not_a_navigation' });
        return reply.code(403).headers(NO_STORE)
          .send({ error: 'not_a_navigation', message: 'a sign-in starts from a page the browser navigates to, not from a script, an image or a frame' });
      }
      const { rd, reauth, idp: named } = req.query;
      const returnTo = rd === undefined || rd === '' ? undefined : allowedReturnUrl(rd, config.allowedReturnUrls);
      if (rd !== undefined && rd !== '' && returnTo === undefined) {
        metrics.redeemRefused.inc({ reason: 'return_url_not_allowed' });
        if (wantsHtml(req)) return sendPage(reply, 400, signInNotStartedPage('return_url_not_allowed', req.id));
        return reply.code(400).headers(NO_STORE).send({ error: 'return_url_not_allowed', message: 'rd is not an allowed return URL' });
      }
      const renewed = await tryRenew(req, reply, returnTo);
      if ('done' in renewed) return renewed.done;
      const forceAuthn = renewed.forceAuthn || reauth === '1';
      const chosen = chooseIdp(req, reply, named, renewed.idp, returnTo, forceAuthn ? { reauth: '1' } : {});
      if ('done' in chosen) return chosen.done;
      const settings = chosen.idp.settings;
      if (settings === undefined) {
        metrics.redeemRefused.inc({ reason: 'idp_unavailable' });
        if (wantsHtml(req)) return sendPage(reply, 503, signInNotStartedPage('idp_unavailable', req.id));
        return reply.code(503).headers(NO_STORE).send({ error: 'idp_unavailable', message: 'this identity provider cannot be used at the moment (its metadata could not be fetched)' });
      }
      const redirect = await buildLoginRedirect(settings, returnTo, new Date(), { forceAuthn });
      const state = newLoginState(redirect.requestId, ttl);
      const network = clientNetwork(req.clientAddress);
      let saved: boolean;
      try {
        saved = await saveRequestIdBounded(app.db.kysely, {
          requestId: redirect.requestId,
          expiresAt: redirect.expiresAt,
          binding: { stateHash: state.stateHash, clientNetwork: network },
          max: config.maxPendingLogins,
          idpIssuer: settings.idpIssuer,
        });
      } catch (err) {
        databaseUnavailable(req, err, 'login not started');
        return unavailable(req, reply);
      }
      if (!saved) {
        metrics.redeemRefused.inc({ reason: 'too_many_pending_logins' });
        audit({ event: 'redeem_refused', reason: 'too_many_pending_logins', client: req.clientAddress, request_id: req.id });
        if (wantsHtml(req)) return sendPage(reply.header('retry-after', String(ttl)), 429, signInNotStartedPage('too_many_pending_logins', req.id));
        return reply.code(429).headers(NO_STORE).header('retry-after', String(ttl))
          .send({ error: 'too_many_pending_logins', message: 'too many sign-ins started from this network; try again in a few minutes' });
      }
      return reply.code(302).headers(NO_STORE).header('set-cookie', state.setCookie).header('location', redirect.url).send();
    },
  );
};

export default login;
