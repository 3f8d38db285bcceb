import type { FastifyPluginAsync } from 'fastify';
import { jwksDocument, type SigningKey } from '../../shared/jwt-keys.js';

/**
 * GET /.well-known/jwks.json on the main port: the public keys upstreams verify X-Auth-Request-Jwt
 * with (every UPSTREAM_JWT_PRIVATE_KEY, `kid` = RFC 7638 thumbprint). Served only when configured.
 */
const jwks: FastifyPluginAsync<{ keys: readonly SigningKey[] }> = async (app, { keys }) => {
  const body = jwksDocument(keys);
  app.get('/.well-known/jwks.json', async (_req, reply) =>
    reply.type('application/json').header('cache-control', 'public, max-age=300').send(body),
  );
};

export default jwks;
