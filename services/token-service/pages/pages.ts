import type { FastifyReply, FastifyRequest } from 'fastify';
import { NO_STORE } from '../routes/context.js';
import { PAGE_CSP, facts, link, linkList, page, paragraph, postButton, code } from './html.js';

/**
 * The pages people land on, in their words and without internals; programs (Accept without text/html,
 * or asking for JSON) get JSON instead. Pure builders plus one sender.
 */
export function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html') && !accept.includes('application/json');
}

export function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(NO_STORE).header('content-security-policy', PAGE_CSP).type('text/html; charset=utf-8').send(html);
}

const support = (requestId: string) => paragraph('If this keeps happening, contact your administrator and quote this reference: ', code(requestId), '.');

export function signInRefusedPage(requestId: string, signInHref: string): string {
  return page('Sign-in not completed', [
    paragraph('Your sign-in could not be completed, so you were not signed in. This can happen when the sign-in took too long, was already used, or was opened in another browser.'),
    paragraph(link(signInHref, 'Start the sign-in again'), '.'),
    support(requestId),
  ]);
}

export function signedOutPage(signInHref: string): string {
  return page('Signed out', [
    paragraph('You are signed out of this site. To sign out of every site that uses the same company sign-in, also sign out at your identity provider, or close the browser.'),
    paragraph(link(signInHref, 'Sign in again'), '.'),
  ]);
}

export function sessionExpiredPage(reason: 'idle' | 'expired', signInHref: string, idleMinutes: number): string {
  const why = reason === 'idle'
    ? `You were signed out after ${idleMinutes} minutes without activity, to protect your account on a shared or unattended computer.`
    : 'Your session reached its maximum length, so you were signed out.';
  return page('Session expired', [paragraph(why, ' You will be asked for your password again.'), paragraph(link(signInHref, 'Sign in again'), '.')]);
}

export interface SignedInAs {
  subject: string;
  email: string | null;
}

export function forbiddenPage(who: SignedInAs | null, requestId: string, signInHref: string): string {
  if (who === null) {
    return page('Access denied', [
      paragraph('You do not have access to this page.'),
      paragraph(link(signInHref, 'Sign in'), ' with an account that has access, or ask your administrator for access.'),
      support(requestId),
    ]);
  }
  const rows: [string, string][] = [['Signed in as', who.subject]];
  if (who.email !== null && who.email !== who.subject) rows.push(['Email', who.email]);
  return page('Access denied', [
    paragraph('Your account does not have access to this page. If you need it, ask your administrator and quote the reference below.'),
    facts(rows),
    paragraph('If you meant to use another account, sign out first:'),
    postButton('/logout', 'Sign out'),
    support(requestId),
  ]);
}

/** With several IdPs and none named: one link per IdP (in the configured order), carrying `rd` and `reauth`. */
export function chooseIdpPage(idps: readonly { name: string; displayName: string }[], returnTo: string | undefined, extra: Record<string, string> = {}): string {
  const items = idps.map((i) => ({ href: signInHref(returnTo, { idp: i.name, ...extra }), text: i.displayName }));
  return page('Choose how to sign in', [paragraph('Sign in with your organisation:'), linkList('Identity providers', items)]);
}

export type SignInNotStarted = 'return_url_not_allowed' | 'too_many_pending_logins' | 'service_unavailable' | 'unknown_idp' | 'idp_unavailable';

/** A sign-in that could not start (a return address not allowed, too many sign-ins at once, an outage, an unknown IdP). */
export function signInNotStartedPage(why: SignInNotStarted, requestId: string): string {
  const text = {
    unknown_idp: 'The link you followed names a sign-in provider this service does not know. Go back to the application and sign in from there.',
    idp_unavailable: 'This sign-in provider cannot be used at the moment. Try again in a few minutes, or choose another one if you have one.',
    return_url_not_allowed: 'The link you followed asks to return to an address this sign-in does not serve. Go back to the application and sign in from there.',
    too_many_pending_logins: 'Too many sign-ins were started from your network at once. Wait a few minutes, then try again.',
    service_unavailable: 'The sign-in service is temporarily unavailable. Try again in a minute.',
  }[why];
  return page('Sign-in not started', [paragraph(text), support(requestId)]);
}

/** GET /logout: signing out changes something, so it takes a POST from this form (never a link alone). */
export function confirmSignOutPage(rd: string | undefined): string {
  return page('Sign out?', [paragraph('Do you want to sign out of this site?'), postButton('/logout', 'Sign out', rd === undefined ? {} : { rd })]);
}

/** The sign-in link for a page: /saml/login, with the return URL when there is an allowed one. */
export function signInHref(returnTo: string | undefined, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ ...(returnTo === undefined ? {} : { rd: returnTo }), ...extra }).toString();
  return q === '' ? '/saml/login' : `/saml/login?${q}`;
}
