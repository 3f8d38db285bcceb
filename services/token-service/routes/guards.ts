import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { onRequestHookHandler } from 'fastify';
import { inList } from '../../shared/cidr.js';
import { ClientAddressResolver } from '../../shared/client-ip.js';
import type { RouteContext } from './context.js';
import { RateLimitedError } from '../../shared/errors.js';
import { clientNetwork } from './client-network.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client's address: the peer, or a forwarded one when the peer is in TRUSTED_PROXIES. */
    clientAddress: string;
  }
  interface FastifyInstance {
    /** onRequest hook for the redemption endpoint: ALLOWED_CIDRS, when set, narrows who may redeem. */
    redeemAllowlist: onRequestHookHandler;
  }
}

/**
 * The client address on every request, the redemption allowlist, and rate limiting per client network
 * (IPv4 address, IPv6 /64; routes opt in with `config.rateLimit` from `routeRateLimit`). Each route's
 * store is an LRU of `RATE_LIMIT_STORE_SIZE` networks: a client being refused is touched by every refusal,
 * so a spray of new networks evicts the longest-idle ones first, never the one being held back, until the
 * sprayer holds more networks than the store (and so more budget than the store could withhold). The allowlist only narrows: an address inside it still needs a valid
 * SAML response; an address outside it gets 403 before its document is read.
 */
const guards: FastifyPluginAsyncTypebox<RouteContext> = async (app, { config, metrics, audit }) => {
  app.decorateRequest('clientAddress', '');
  const clients = new ClientAddressResolver(config.trustedProxies);
  app.addHook('onRequest', async (req) => {
    req.clientAddress = clients.resolve(req.socket, req.headers);
  });

  const allowed = config.allowedCidrs;
  app.decorate('redeemAllowlist', async function (req, reply) {
    if (allowed === undefined || inList(allowed, req.clientAddress)) return;
    metrics.redeemRefused.inc({ reason: 'source_not_allowed' });
    req.log.info({ reason: 'source_not_allowed', client: req.clientAddress }, 'redemption refused');
    audit({ event: 'redeem_refused', reason: 'source_not_allowed', client: req.clientAddress, request_id: req.id });
    await reply.code(403).send({ error: 'source_not_allowed', message: 'this network may not redeem SAML responses' });
  } as onRequestHookHandler);

  await app.register(rateLimit, {
    global: false,
    keyGenerator: (req) => clientNetwork(req.clientAddress),
    cache: config.rateLimit.storeSize,
    errorResponseBuilder: (_req, ctx) => new RateLimitedError(Math.ceil(ctx.ttl / 1000)),
    onExceeded: (req) => {
      metrics.redeemRefused.inc({ reason: 'rate_limited' });
      audit({ event: 'redeem_refused', reason: 'rate_limited', client: req.clientAddress, request_id: req.id });
    },
  });
};

export default fp(guards, { name: 'token-guards', fastify: '5.x' });
