import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { jwksDocument } from '../../shared/jwt-keys.js';
import { buildMetadata, idpFacts } from '../saml/metadata.js';
import type { RouteContext } from './context.js';
import type { IdpEntry } from '../idps/types.js';
import { SAML_DEFAULTS } from '../saml/config.js';

/** GET /saml/metadata (SP metadata XML) and GET /.well-known/jwks.json (every published signing key). */
const metadata: FastifyPluginAsyncTypebox<RouteContext> = async (app, { config, idps }) => {
  // Built again only when the configured IdPs change (a reload of SAML_IDPS_FILE, a metadata refresh).
  let built: { from: readonly IdpEntry[]; xml: string } | undefined;
  const spMetadata = (): string => {
    const list = idps.list();
    if (built?.from !== list) {
      const usable = list.flatMap((i) => (i.settings === undefined ? [] : [i.settings]));
      const nameIdFormats = usable.length > 0 ? usable.map((s) => s.nameIdFormat) : [config.idpDefaults.nameIdFormat ?? SAML_DEFAULTS.nameIdFormat];
      built = { from: list, xml: buildMetadata(config.sp, { ...idpFacts(usable), nameIdFormats }) };
    }
    return built.xml;
  };
  const jwks = jwksDocument(config.jwt.keys);
  app.get('/saml/metadata', async (_req, reply) => reply.type('application/samlmetadata+xml; charset=utf-8').send(spMetadata()));
  app.get('/.well-known/jwks.json', async (_req, reply) =>
    reply.type('application/json').header('cache-control', 'public, max-age=300').send(jwks),
  );
};

export default metadata;
