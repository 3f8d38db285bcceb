import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { AccessLine } from '../../shared/access-log.js';
import { INTERNAL_ERROR_BODY } from '../../shared/error-handler.js';
import type { AuthRequest, Decide } from './auth-decision.js';

export interface FrontDoorOptions {
  decide: Decide;
  /** The request id Fastify would give this request (logging.ts `genReqId`). */
  requestId: (req: IncomingMessage) => string;
  /** `http_request_duration_seconds` (metrics.ts `observeHttp`). */
  observe: (route: string, method: string, statusCode: number, seconds: number) => void;
  /** The access line (access-log.ts `app.accessLine`), null when access lines are off. */
  accessLine: AccessLine | null;
  log: FastifyBaseLogger;
  /** True from SIGTERM on (readiness) and once the app closes: Fastify then answers everything. */
  closing: () => boolean;
}

const ROUTE = '/auth';
const INTERNAL_ERROR = JSON.stringify(INTERNAL_ERROR_BODY);

/**
 * The `/auth` front door: answers NGINX's and Traefik's decision requests (`/auth`, `/auth?…`, no
 * body) before Fastify's router, with the same decision (routes/auth-decision.ts), the same request id,
 * access line and latency histogram, and the same 500 for a programming error. Everything else —
 * another path or URL form, a request with a body, Envoy's path prefix, any request once shutdown has
 * begun — returns false and goes to Fastify, whose `/auth` route decides it the same way. What this
 * saves per request is Fastify's request and reply objects, child logger, router lookup and hook
 * chains: the endpoint is on the path of every request the protected applications get
 * (docs/performance.md).
 */
export function authFrontDoor(opts: FrontDoorOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { decide, requestId, observe, accessLine, log, closing } = opts;

  /** What the router's onResponse hook does for an answered request: the histogram and the access line. */
  const record = (req: IncomingMessage, id: string, started: number, status: number) => {
    const elapsedMs = performance.now() - started;
    observe(ROUTE, req.method!, status, elapsedMs / 1000);
    accessLine?.(id, req.method!, ROUTE, req.url!, status, elapsedMs, req.socket.remoteAddress);
  };

  const send = (req: IncomingMessage, res: ServerResponse, id: string, started: number, status: number, headers: string[]) => {
    res.writeHead(status, headers);
    res.end();
    record(req, id, started, status);
  };

  const fail = (req: IncomingMessage, res: ServerResponse, id: string, started: number, err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    log.error({ request_id: id, err: { name: e.name, message: e.message, stack: e.stack } }, 'request failed');
    if (res.headersSent) return void res.destroy();
    res.writeHead(500, ['content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(INTERNAL_ERROR))]);
    res.end(INTERNAL_ERROR);
    record(req, id, started, 500);
  };

  return (req, res) => {
    const url = req.url!;
    if (!(url === ROUTE || (url.startsWith(ROUTE) && url.charCodeAt(ROUTE.length) === 63 /* ? */))) return false;
    const sent = req.headers; // a getter on Node's request: read once
    const length = sent['content-length'];
    if ((length !== undefined && length !== '0') || sent['transfer-encoding'] !== undefined || closing()) return false;
    const started = performance.now();
    const id = requestId(req);
    const headers: string[] = ['content-length', '0'];
    try {
      const status = decide(req as AuthRequest, id, headers); // a server's request: method and url are set
      if (typeof status === 'number') send(req, res, id, started, status, headers);
      else status.then((s) => send(req, res, id, started, s, headers)).catch((err: unknown) => fail(req, res, id, started, err));
    } catch (err) {
      fail(req, res, id, started, err);
    }
    return true;
  };
}
