/**
 * The baselines of bench 6, behind the same Fastify settings and form parser as the token-service,
 * answering 200 when the SAML Response is accepted. No replay store, no JWT, no database.
 *
 * BASELINE=node-saml: node-saml's signature validation alone, the core of its
 *   `validatePostResponseAsync`: base64 → parse → `getVerifiedXml` on the signed Assertion with the
 *   configured certificate → parse the verified bytes. (`validatePostResponseAsync` itself cannot run
 *   in this dependency tree: it constructs xmldom 0.9's DOMParser with the removed `errorHandler`
 *   option and throws before validating; its remaining condition checks are a few attribute reads.)
 * BASELINE=validate: our complete `validateSamlResponse` (services/token-service/saml/validate.ts)
 *   without what /saml/acs adds (replay and request-id checks in Postgres, the token row, JWT signing,
 *   metrics, audit and access logs).
 */
import '../../../services/token-service/saml/xmldom-compat.js';
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import { getVerifiedXml } from '@node-saml/node-saml/lib/xml.js';
import { DOMParser } from '@xmldom/xmldom';
import { loggerOptions } from '../../../services/shared/logging.js';
import { samlSettings } from '../../../services/token-service/saml/config.js';
import { validateSamlResponse } from '../../../services/token-service/saml/validate.js';

const env = process.env;
const cert = env.SAML_IDP_CERT ?? '';
const settings = samlSettings({
  idpCerts: [cert],
  idpIssuer: env.SAML_IDP_ISSUER ?? '',
  idpSsoUrl: env.SAML_IDP_SSO_URL ?? '',
  spEntityId: env.SAML_SP_ENTITY_ID ?? '',
  acsUrl: env.SAML_ACS_URL ?? '',
  allowIdpInitiated: true, // the token-service's default (SAML_ALLOW_IDP_INITIATED)
});
const ASSERTION_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';

function nodeSamlVerify(b64: string): boolean {
  const xml = Buffer.from(b64, 'base64').toString('utf8');
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const assertion = doc.getElementsByTagNameNS(ASSERTION_NS, 'Assertion')[0];
  if (!assertion) return false;
  const signed = getVerifiedXml(xml, assertion as unknown as Parameters<typeof getVerifiedXml>[1], [cert]);
  if (signed === null) return false;
  return new DOMParser().parseFromString(signed, 'text/xml').documentElement !== null;
}

const mode = env.BASELINE === 'validate' ? 'validate' : 'node-saml';
const bodyLimit = Math.ceil(256 * 1024 * 1.5) + 4096;
const app = Fastify({ ...loggerOptions('info'), bodyLimit, forceCloseConnections: 'idle', return503OnClosing: true, trustProxy: false });
await app.register(formbody, { bodyLimit });
app.post('/saml/acs', async (req, reply) => {
  const response = (req.body as { SAMLResponse?: string }).SAMLResponse ?? '';
  try {
    if (mode === 'validate') await validateSamlResponse(response, settings);
    else if (!nodeSamlVerify(response)) throw new Error('signature does not verify');
    return reply.code(200).send({ ok: true });
  } catch (err) {
    req.log.info({ err: (err as Error).message }, 'refused');
    return reply.code(401).send({ error: 'invalid_saml_response' });
  }
});

await app.listen({ host: '127.0.0.1', port: Number(env.PORT ?? 0) });
const address = app.server.address();
app.log.info({ port: typeof address === 'object' && address ? address.port : 0, metrics_port: 0, mode }, 'SAML baseline listening');
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
