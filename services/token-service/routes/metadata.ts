import type { FastifyPluginAsync } from 'fastify';
import { jwksDocument } from '../../shared/jwt-keys.js';
import { buildMetadata } from '../saml/metadata.js';
import type { RouteContext } from './context.js';

/** GET /saml/metadata (SP metadata XML) and GET /.well-known/jwks.json (every published signing key). */
const metadata: FastifyPluginAsync<RouteContext> = async (app, { config }) => {
  const xml = buildMetadata(config.saml);
  const jwks = jwksDocument(config.jwt.keys);
  app.get('/saml/metadata', async (_req, reply) => reply.type('application/samlmetadata+xml; charset=utf-8').send(xml));
  app.get('/.well-known/jwks.json', async (_req, reply) =>
    reply.type('application/json').header('cache-control', 'public, max-age=300').send(jwks),
  );
};

export default metadata;
