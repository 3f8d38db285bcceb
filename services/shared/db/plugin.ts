import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { connect, type Db } from './connect.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
  }
}

export interface DbPluginOptions {
  url: string;
  poolMax: number;
}

/**
 * The pool and typed Kysely instance, closed with the app. Kysely's failures are coded: a
 * DatabaseUnavailableError, which routes catch by type (or the error handler answers 503).
 */
const dbPlugin: FastifyPluginAsync<DbPluginOptions> = async (app, opts) => {
  const db = connect({ url: opts.url, poolMax: opts.poolMax, codedErrors: true });
  app.decorate('db', db);
  app.addHook('onClose', async () => {
    await db.destroy();
  });
};

export default fp(dbPlugin, { name: 'db', fastify: '5.x' });
