import { METHODS } from 'node:http';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { AuthRequest, Decide } from './auth-decision.js';

/** Every method Node's parser knows (CONNECT never reaches a route): an auth subrequest keeps the original one. */
const ALL_METHODS = METHODS.filter((m) => m !== 'CONNECT');

/** Lets the app route every method, none of them with a body to parse. Call on the root instance. */
export function supportEveryMethod(app: FastifyInstance): void {
  for (const method of ALL_METHODS) {
    if (!app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: false });
  }
}

/** The routes that answer decisions: `/auth` and, with `ENVOY_PATH_PREFIX`, the prefix and what is under it. */
export function decisionRoutes(opts: { envoyPathPrefix: string | null }): Set<string> {
  const prefix = opts.envoyPathPrefix;
  return new Set(prefix === null ? ['/auth'] : ['/auth', prefix, `${prefix}/*`]);
}

/**
 * `/auth` (and Envoy's path prefix) as Fastify routes: every request the front door
 * (routes/front-door.ts) leaves to the router — Envoy's, a request with a body, an unusual URL form,
 * anything during shutdown — is decided here by the same `decide` (routes/auth-decision.ts). Reads no body.
 */
const auth: FastifyPluginAsync<{ decide: Decide; envoyPathPrefix: string | null }> = async (app, { decide, envoyPathPrefix }) => {
  // No body is read: any content type is accepted and left unparsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  const handler = (req: { raw: unknown; id: string }, reply: FastifyReply) => {
    const out: string[] = [];
    const status = decide(req.raw as AuthRequest, req.id, out); // a server's request: method and url are set
    return typeof status === 'number' ? answer(reply, status, out) : status.then((s) => answer(reply, s, out));
  };

  for (const url of decisionRoutes({ envoyPathPrefix })) app.route({ method: ALL_METHODS, url, handler });
};

function answer(reply: FastifyReply, status: number, headers: readonly string[]): FastifyReply {
  for (let i = 0; i < headers.length; i += 2) reply.header(headers[i]!, headers[i + 1]!);
  return reply.code(status).send();
}

export default auth;
