/**
 * The baseline of benches 1 and 2: Fastify with the services' own constructor settings (logger,
 * request ids, close behaviour; see services/shared/app-base.ts) and one route answering 200 with an
 * empty body, for every path. No plugins, no metrics, no access log: what any Fastify service costs.
 * Listens on 127.0.0.1:PORT (0 = any) and logs the port like the services do.
 */
import Fastify from 'fastify';
import { loggerOptions } from '../../../services/shared/logging.js';

const app = Fastify({
  ...loggerOptions('info'),
  bodyLimit: 64 * 1024,
  forceCloseConnections: 'idle',
  return503OnClosing: true,
  trustProxy: false,
});
app.get('/*', async (_req, reply) => reply.code(200).send());

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
const address = app.server.address();
app.log.info({ port: typeof address === 'object' && address ? address.port : 0, metrics_port: 0 }, 'bare listening');
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
