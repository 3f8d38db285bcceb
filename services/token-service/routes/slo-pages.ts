import type { FastifyReply, FastifyRequest } from 'fastify';
import { NO_STORE } from './context.js';

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Pages for people (HTML unless the client asks for JSON only); no internals, a request id to quote. */
export interface SloPage {
  status: number;
  error: string;
  title: string;
  text: string;
}

export function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html') || !accept.includes('application/json');
}

export function sendPage(req: FastifyRequest, reply: FastifyReply, page: SloPage): FastifyReply {
  reply.code(page.status).headers(NO_STORE);
  if (!wantsHtml(req)) return reply.send({ error: page.error, message: page.text });
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">`
    + `<title>${escapeHtml(page.title)}</title></head><body><main><h1>${escapeHtml(page.title)}</h1><p>${escapeHtml(page.text)}</p>`
    + (page.status >= 400 ? `<p>If you contact support, quote <code>${escapeHtml(req.id)}</code>.</p>` : '')
    + '</main></body></html>\n';
  return reply.header('content-security-policy', "default-src 'none'; base-uri 'none'; frame-ancestors 'none'").type('text/html; charset=utf-8').send(html);
}

export const PAGES = {
  refused: { status: 403, error: 'logout_refused', title: 'Sign-out message not accepted', text: 'This sign-out message could not be verified, so nothing was changed. If you meant to sign out, use the sign-out button of the application.' },
  malformed: { status: 400, error: 'logout_malformed', title: 'Sign-out message not readable', text: 'This sign-out message could not be read, so nothing was changed. If you meant to sign out, use the sign-out button of the application.' },
  unavailable: { status: 503, error: 'service_unavailable', title: 'Sign-out not completed', text: 'The service is temporarily unavailable and could not complete the sign-out. Please try again in a moment.' },
  signedOut: { status: 200, error: 'signed_out', title: 'Signed out', text: 'You are signed out, here and at your sign-in service. You can close this page.' },
  partial: { status: 200, error: 'signed_out_partially', title: 'Signed out here', text: 'You are signed out of this service, but your sign-in service reported that it could not sign you out everywhere. Close the browser to be sure.' },
} as const satisfies Record<string, SloPage>;
