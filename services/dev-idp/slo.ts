import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NS, attr, isElement, onlyChild, parseXml } from '../token-service/saml/xml.js';
import { escapeHtml } from './html.js';
import { logoutRequestXml, logoutResponseXml, readSignedRedirect, redirectQuery } from './logout.js';
import type { KeyPair } from './keys.js';

export const FORMATS = {
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
} as const;

/**
 * The NameID the dev IdP sends for a user, honouring the AuthnRequest's NameIDPolicy Format (or the
 * sign-in form's override): emailAddress → the user as typed; persistent → a stable opaque id derived
 * from it; transient → a new random id every time (what an IdP left at its default sends);
 * unspecified or none → the user as typed, said to be an email address.
 */
export function nameIdFor(user: string, format: string | null): { nameId: string; format: string } {
  switch (format) {
    case FORMATS.persistent:
      return { nameId: createHash('sha256').update(`dev-idp:${user}`).digest('hex').slice(0, 32), format };
    case FORMATS.transient:
      return { nameId: `_${randomBytes(16).toString('hex')}`, format };
    default:
      return { nameId: user, format: FORMATS.email };
  }
}

/** A sign-in at the dev IdP (its own session, by cookie): SSO until it ends (sign-out, SLO). */
export interface IdpSession {
  user: string;
  email: string;
  groups: string;
  nameId: string;
  format: string;
  sessionIndex: string;
}

export const IDP_COOKIE = 'dev_idp_session';

export class IdpSessions {
  private readonly byCookie = new Map<string, IdpSession>();
  start(session: Omit<IdpSession, 'sessionIndex'>): { cookie: string; session: IdpSession } {
    const cookie = randomBytes(24).toString('base64url');
    const full = { ...session, sessionIndex: `_${randomBytes(12).toString('hex')}` };
    this.byCookie.set(cookie, full);
    return { cookie, session: full };
  }
  of(req: FastifyRequest): IdpSession | undefined {
    const m = new RegExp(`(?:^|;\\s*)${IDP_COOKIE}=([A-Za-z0-9_-]+)`).exec(req.headers.cookie ?? '');
    return m ? this.byCookie.get(m[1]!) : undefined;
  }
  /** Ends every IdP session with this NameID (or of this user); the sessions ended. */
  endAll(nameId: string): IdpSession[] {
    const ended: IdpSession[] = [];
    for (const [cookie, s] of this.byCookie) {
      if (s.nameId === nameId || s.user === nameId) {
        this.byCookie.delete(cookie);
        ended.push(s);
      }
    }
    return ended;
  }
}

export const setIdpCookie = (value: string, maxAge?: number): string =>
  `${IDP_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax${maxAge === undefined ? '' : `; Max-Age=${maxAge}`}`;

export interface DevIdpSlo {
  /** The SP's signing certificate: its LogoutRequests and LogoutResponses must verify with it. */
  spCert: string;
  /** The SP's SingleLogoutService (HTTP-Redirect). */
  spSloUrl: string;
}

const page = (reply: FastifyReply, status: number, title: string, text: string) =>
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', "default-src 'none'")
    .send(`<!doctype html><html lang="en"><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></html>`);

/**
 * SAML Single Logout at the dev IdP:
 * - `GET /slo?SAMLRequest=…` (the SP's signed LogoutRequest, verified with the SP certificate): ends
 *   the IdP sessions of that NameID (the next sign-in shows the form again) and redirects to the SP's
 *   SLO URL with a signed LogoutResponse (Success);
 * - `GET /slo?SAMLResponse=…`: the SP's answer to an IdP-initiated logout: a "signed out" page;
 * - `GET /dev/logout-all?nameId=…`: IdP-initiated logout: ends the IdP sessions of that NameID and
 *   redirects to the SP with a signed LogoutRequest for all of its sessions.
 */
export function registerSlo(app: FastifyInstance, o: { idp: KeyPair; issuer: string; slo: DevIdpSlo }, sessions: IdpSessions): void {
  const clear = setIdpCookie('', 0);
  app.get('/slo', async (req, reply) => {
    const url = req.raw.url ?? '';
    let message;
    try {
      message = readSignedRedirect(url.slice(url.indexOf('?') + 1), o.slo.spCert);
    } catch {
      return page(reply, 400, 'Logout message refused', 'The logout message is not signed by the registered SP certificate.');
    }
    const root = parseXml(message.xml, 'logout message').documentElement;
    if (message.param === 'SAMLResponse') {
      if (!root || !isElement(root, NS.protocol, 'LogoutResponse')) return page(reply, 400, 'Logout message refused', 'Not a LogoutResponse.');
      return page(reply.header('set-cookie', clear), 200, 'Signed out', 'You are signed out at the development IdP and at the service.');
    }
    if (!root || !isElement(root, NS.protocol, 'LogoutRequest')) return page(reply, 400, 'Logout message refused', 'Not a LogoutRequest.');
    const nameId = onlyChild(root, NS.assertion, 'NameID')?.textContent?.trim() ?? '';
    const requestId = attr(root, 'ID') ?? '';
    sessions.endAll(nameId);
    const answer = logoutResponseXml({ issuer: o.issuer, destination: o.slo.spSloUrl, inResponseTo: requestId });
    const query = redirectQuery('SAMLResponse', answer.xml, o.idp.key, message.relayState === undefined ? {} : { relayState: message.relayState });
    return reply.code(302).header('set-cookie', clear).header('cache-control', 'no-store').header('location', `${o.slo.spSloUrl}?${query}`).send();
  });

  app.get<{ Querystring: Record<string, unknown> }>('/dev/logout-all', async (req, reply) => {
    const nameId = typeof req.query.nameId === 'string' ? req.query.nameId.trim() : '';
    if (nameId === '') return page(reply, 400, 'nameId required', 'Give the NameID to sign out: /dev/logout-all?nameId=alice@example.com');
    // The NameID the SP knows: the one of an IdP session of this user (persistent, transient), else as given.
    const known = sessions.endAll(nameId)[0];
    const request = logoutRequestXml({ issuer: o.issuer, destination: o.slo.spSloUrl, nameId: known?.nameId ?? nameId, nameIdFormat: known?.format ?? FORMATS.email, sessionIndexes: [] });
    return reply.code(302).header('set-cookie', clear).header('cache-control', 'no-store')
      .header('location', `${o.slo.spSloUrl}?${redirectQuery('SAMLRequest', request.xml, o.idp.key)}`).send();
  });
}
