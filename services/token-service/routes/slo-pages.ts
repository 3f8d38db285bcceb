import type { FastifyReply, FastifyRequest } from 'fastify';
import { code, link, page, paragraph } from '../pages/html.js';
import { sendPage, signInHref, wantsHtml } from '../pages/pages.js';
import { NO_STORE } from './context.js';

/** What /saml/slo can answer a person (a page) or a program (JSON): no internals, a reference to quote. */
export interface SloPage {
  status: number;
  error: string;
  title: string;
  text: string;
}

export function sendSloPage(req: FastifyRequest, reply: FastifyReply, p: SloPage): FastifyReply {
  if (!wantsHtml(req)) return reply.code(p.status).headers(NO_STORE).send({ error: p.error, message: p.text });
  const parts = [paragraph(p.text)];
  if (p.status >= 400) parts.push(paragraph('If you contact support, quote this reference: ', code(req.id), '.'));
  else parts.push(paragraph(link(signInHref(undefined), 'Sign in again'), '.'));
  return sendPage(reply, p.status, page(p.title, parts));
}

export const PAGES = {
  refused: { status: 403, error: 'logout_refused', title: 'Sign-out message not accepted', text: 'This sign-out message could not be verified, so nothing was changed. If you meant to sign out, use the sign-out button of the application.' },
  malformed: { status: 400, error: 'logout_malformed', title: 'Sign-out message not readable', text: 'This sign-out message could not be read, so nothing was changed. If you meant to sign out, use the sign-out button of the application.' },
  unavailable: { status: 503, error: 'service_unavailable', title: 'Sign-out not completed', text: 'The service is temporarily unavailable and could not complete the sign-out. Please try again in a moment.' },
  signedOut: { status: 200, error: 'signed_out', title: 'Signed out', text: 'You are signed out, here and at your sign-in service.' },
  partial: { status: 200, error: 'signed_out_partially', title: 'Signed out here', text: 'You are signed out of this service, but your sign-in service reported that it could not sign you out everywhere. Close the browser to be sure.' },
} as const satisfies Record<string, SloPage>;
