import { randomBytes } from 'node:crypto';

/** HTML-escapes text and attribute values (everything echoed by the dev IdP goes through this). */
export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

export interface Page {
  html: string;
  /** Content-Security-Policy for this page (a nonce for its one inline script). */
  csp: string;
}

const layout = (title: string, body: string, nonce: string, script = ''): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style nonce="${nonce}">body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}label{display:block;margin:.6rem 0}input{width:100%}</style>
</head><body>${body}${script}</body></html>`;

const policy = (nonce: string, formAction: string): string =>
  `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; form-action ${formAction}; base-uri 'none'; frame-ancestors 'none'`;

export interface LoginFormFields {
  requestId: string | null;
  /** The NameIDPolicy Format asked for, carried to the POST. */
  nameIdFormat?: string | null;
  relayState: string | null;
  nameId: string;
  email: string;
  groups: string;
  spEntityId: string;
  acsUrl: string;
}

/** The user picker shown at GET /sso. */
export function loginForm(f: LoginFormFields): Page {
  const nonce = randomBytes(16).toString('base64');
  const hidden = (name: string, value: string | null): string =>
    value === null ? '' : `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  const body = `<h1>saml-authz development IdP</h1>
<p>Signing in to <code>${escapeHtml(f.spEntityId)}</code> (ACS <code>${escapeHtml(f.acsUrl)}</code>)${f.requestId === null ? '' : `, request <code>${escapeHtml(f.requestId)}</code>`}. Never use this in production.</p>
<form method="post" action="/sso">${hidden('requestId', f.requestId)}${hidden('nameIdFormat', f.nameIdFormat ?? null)}${hidden('relayState', f.relayState)}
<label>User (NameID) <input name="nameId" required value="${escapeHtml(f.nameId)}"></label>
<label>Email <input name="email" value="${escapeHtml(f.email)}"></label>
<label>Groups (comma-separated) <input name="groups" value="${escapeHtml(f.groups)}"></label>
<button type="submit">Sign in</button></form>`;
  return { html: layout('Dev IdP sign-in', body, nonce), csp: policy(nonce, "'self'") };
}

/** Like an IdP: a form that POSTs the SAMLResponse (and RelayState) to the ACS, submitted by script. */
export function autoPostForm(acsUrl: string, samlResponse: string, relayState: string | null): Page {
  const nonce = randomBytes(16).toString('base64');
  const relay = relayState === null ? '' : `<input type="hidden" name="RelayState" value="${escapeHtml(relayState)}">`;
  const body = `<form method="post" action="${escapeHtml(acsUrl)}">
<input type="hidden" name="SAMLResponse" value="${escapeHtml(samlResponse)}">${relay}
<noscript><button type="submit">Continue</button></noscript></form>`;
  const script = `<script nonce="${nonce}">document.forms[0].submit()</script>`;
  // form-action also governs the redirects that follow the post: the ACS's 303 to the RelayState must
  // be allowed too, or Chromium stops a sign-in whose ACS is on another origin than the application.
  const origins = new Set([new URL(acsUrl).origin]);
  const relayOrigin = relayState === null ? null : URL.parse(relayState)?.origin;
  if (relayOrigin && /^https?:/.test(relayOrigin)) origins.add(relayOrigin);
  return { html: layout('Signing in…', body, nonce, script), csp: policy(nonce, [...origins].join(' ')) };
}
