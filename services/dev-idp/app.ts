import { inflateRawSync } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import formbody from '@fastify/formbody';
import { NS, attr, isElement, onlyChild, parseXml } from '../token-service/saml/xml.js';
import type { KeyPair } from './keys.js';
import { autoPostForm, loginForm, type Page } from './html.js';
import { signSamlResponse, type SignWhat } from './sign.js';
import { IdpSessions, nameIdFor, registerSlo, setIdpCookie, type DevIdpSlo, type IdpSession } from './slo.js';

/** The development IdP (never part of a production entry point or chart). */
export interface DevIdpOptions {
  idp: KeyPair;
  /** The IdP's entity id (Issuer). */
  issuer: string;
  /** The SP: responses are only ever posted to this ACS URL, for this audience. */
  acsUrl: string;
  spEntityId: string;
  /** Encrypt assertions to this SP certificate. */
  encryptFor?: string;
  sign?: SignWhat;
  emailAttribute?: string;
  groupsAttribute?: string;
  /** Prefilled in the picker. */
  defaultUser?: { nameId: string; email: string; groups: readonly string[] };
  logger?: boolean;
  /**
   * SAML Single Logout with this SP (its signing certificate and SLO URL). Turns on IdP sessions: after
   * a sign-in, GET /sso answers at once for the signed-in user (no form) until the session ends by SLO
   * or a ForceAuthn request; GET /slo and GET /dev/logout-all (slo.ts).
   */
  slo?: DevIdpSlo;
  /** Send this NameID format whatever the AuthnRequest asks (e.g. transient, as an IdP left at its default). */
  nameIdFormat?: string;
}

interface Login {
  requestId?: string;
  nameIdFormat?: string;
  relayState?: string;
  nameId?: string;
  email?: string;
  groups?: string;
}

const MAX_REQUEST_BYTES = 64 * 1024;
/** A single text field (a repeated form or query field arrives as an array: not accepted). */
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const login = (b: Record<string, unknown>): Login => {
  const out: Login = {};
  for (const k of ['requestId', 'nameIdFormat', 'relayState', 'nameId', 'email', 'groups'] as const) {
    const v = text(b[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
};
const splitGroups = (s: string | undefined): string[] => (s ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
const send = (reply: FastifyReply, page: Page): FastifyReply =>
  reply.type('text/html; charset=utf-8').header('content-security-policy', page.csp).header('cache-control', 'no-store').send(page.html);

export interface AuthnRequestInfo {
  id: string;
  acsUrl: string | null;
  /** NameIDPolicy Format; null when none is asked. */
  nameIdFormat: string | null;
  forceAuthn: boolean;
}

/** Reads the ID, AssertionConsumerServiceURL, NameIDPolicy Format and ForceAuthn of an HTTP-Redirect AuthnRequest. */
export function readAuthnRequest(samlRequest: string): AuthnRequestInfo {
  const xml = inflateRawSync(Buffer.from(samlRequest, 'base64'), { maxOutputLength: MAX_REQUEST_BYTES }).toString('utf8');
  if (/<!(doctype|entity)/i.test(xml)) throw new Error('DTD in AuthnRequest');
  const root = parseXml(xml, 'AuthnRequest').documentElement;
  const id = root && isElement(root, NS.protocol, 'AuthnRequest') ? attr(root, 'ID') : null;
  if (!root || !id) throw new Error('not an AuthnRequest');
  const policy = onlyChild(root, NS.protocol, 'NameIDPolicy');
  return { id, acsUrl: attr(root, 'AssertionConsumerServiceURL'), nameIdFormat: policy && attr(policy, 'Format'), forceAuthn: attr(root, 'ForceAuthn') === 'true' };
}

export async function buildDevIdp(o: DevIdpOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: o.logger ?? false });
  await app.register(formbody);
  const user = o.defaultUser ?? { nameId: 'alice@example.com', email: 'alice@example.com', groups: ['developers'] };

  const sessions = new IdpSessions();
  if (o.slo) registerSlo(app, { idp: o.idp, issuer: o.issuer, slo: o.slo }, sessions);

  const respond = async (reply: FastifyReply, login: Login, existing?: IdpSession): Promise<FastifyReply> => {
    const user = login.nameId?.trim() ?? '';
    if (user === '') return reply.code(400).type('text/plain').send('a user (NameID) is required');
    const id = existing ?? nameIdFor(user, o.nameIdFormat ?? login.nameIdFormat ?? null);
    let sessionIndex: string | undefined = existing?.sessionIndex;
    if (o.slo && existing === undefined) {
      const started = sessions.start({ user, email: login.email ?? '', groups: login.groups ?? '', nameId: id.nameId, format: id.format });
      sessionIndex = started.session.sessionIndex;
      reply.header('set-cookie', setIdpCookie(started.cookie));
    }
    const email = login.email?.trim();
    const signed = await signSamlResponse({
      idp: o.idp,
      issuer: o.issuer,
      acsUrl: o.acsUrl,
      audience: o.spEntityId,
      nameId: id.nameId,
      nameIdFormat: id.format,
      ...(sessionIndex === undefined ? {} : { sessionIndex }),
      email: email ? email : null,
      groups: splitGroups(login.groups),
      inResponseTo: login.requestId ? login.requestId : null,
      ...(o.emailAttribute ? { emailAttribute: o.emailAttribute } : {}),
      ...(o.groupsAttribute ? { groupsAttribute: o.groupsAttribute } : {}),
      ...(o.sign ? { sign: o.sign } : {}),
      ...(o.encryptFor ? { encrypt: { cert: o.encryptFor } } : {}),
    });
    return send(reply, autoPostForm(o.acsUrl, signed.samlResponse, login.relayState ? login.relayState : null));
  };

  app.get<{ Querystring: Record<string, unknown> }>('/sso', async (req, reply) => {
    const SAMLRequest = text(req.query.SAMLRequest);
    const RelayState = text(req.query.RelayState);
    if (!SAMLRequest) return reply.code(400).type('text/plain').send('SAMLRequest is required (HTTP-Redirect binding)');
    let request: AuthnRequestInfo;
    try {
      request = readAuthnRequest(SAMLRequest);
    } catch {
      return reply.code(400).type('text/plain').send('SAMLRequest is not a deflated, base64 AuthnRequest');
    }
    if (request.acsUrl !== null && request.acsUrl !== o.acsUrl) {
      return reply.code(400).type('text/plain').send('AssertionConsumerServiceURL is not the registered ACS URL');
    }
    const signedIn = o.slo ? sessions.of(req) : undefined;
    if (signedIn && !request.forceAuthn) {
      // Single sign-on: the IdP session answers without asking again.
      return respond(reply, { requestId: request.id, ...(RelayState ? { relayState: RelayState } : {}), nameId: signedIn.user, email: signedIn.email, groups: signedIn.groups }, signedIn);
    }
    return send(reply, loginForm({
      requestId: request.id,
      nameIdFormat: request.nameIdFormat,
      relayState: RelayState ?? null,
      nameId: user.nameId,
      email: user.email,
      groups: user.groups.join(', '),
      spEntityId: o.spEntityId,
      acsUrl: o.acsUrl,
    }));
  });

  app.post<{ Body: Record<string, unknown> | undefined }>('/sso', async (req, reply) => respond(reply, login(req.body ?? {})));

  /** Like an Okta tile: no AuthnRequest, so no InResponseTo. Without `user`, the default user. */
  app.get<{ Querystring: Record<string, unknown> }>('/idp-initiated', async (req, reply) => {
    const [who, email, groups, relayState] = ['user', 'email', 'groups', 'RelayState'].map((k) => text(req.query[k]));
    return respond(reply, {
      nameId: who ?? user.nameId,
      email: email ?? (who === undefined ? user.email : ''),
      groups: groups ?? (who === undefined ? user.groups.join(',') : ''),
      ...(relayState === undefined ? {} : { relayState }),
    });
  });

  return app;
}
