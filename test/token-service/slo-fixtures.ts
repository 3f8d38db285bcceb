/** What the Single Logout tests share: a token-service with SLO on, a signed-in session, logout messages, the /saml/slo calls. */
import { randomUUID } from 'node:crypto';
import { withDb } from '../helpers/db.js';
import { buildTokenService, IDP_ISSUER, type TokenFixture } from '../helpers/token-service.js';
import { mint } from '../helpers/tokens.js';
import { generateIdpKeys, generateSpEncryptionKeys, type KeyPair } from '../../services/dev-idp/keys.js';
import { logoutRequestXml, logoutResponseXml, type LogoutRequestFields, type LogoutResponseFields } from '../../services/dev-idp/logout.js';
import { insertSession } from '../../services/token-service/store/sessions.js';
import { insertToken } from '../../services/token-service/store/tokens.js';
import type { App } from '../../services/shared/app-base.js';
import type { Db } from '../../services/shared/db/connect.js';

const SLO_URL = 'https://auth.test.example/saml/slo';
export const IDP_SLO = 'https://idp.test.example/slo';

let spKeys: Promise<KeyPair> | undefined;
let other: Promise<KeyPair> | undefined;

export async function fixture(t: { teardown(fn: () => unknown): void }, env: Record<string, string> = {}) {
  const db = await withDb(t);
  const sp = await (spKeys ??= generateSpEncryptionKeys('saml-authz test SP signing'));
  const svc = await buildTokenService(t, {
    databaseUrl: db.url,
    env: { SAML_SP_SIGNING_KEY: sp.key, SAML_SP_SIGNING_CERT: sp.cert, SAML_IDP_SLO_URL: IDP_SLO, ...env },
  });
  return { db, sp, svc };
}

/** A live session with one live token, as a sign-in leaves them; the token verifies at the authz-service. */
export async function signIn(db: Db, svc: TokenFixture, subject: string, sessionIndex: string | null) {
  const sid = randomUUID();
  const now = Date.now();
  await insertSession(db.kysely, {
    sid, secretHash: Buffer.from(randomUUID()), subject, email: subject, groups: ['staff'], idpIssuer: IDP_ISSUER, sessionIndex,
    nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', clientAddress: '127.0.0.1',
    createdAt: new Date(now - 1000), idleExpiresAt: new Date(now + 600_000), expiresAt: new Date(now + 3_600_000),
  });
  const token = mint(svc.jwtKey, { subject });
  await insertToken(db.kysely, {
    jti: token.jti, subject, email: subject, groups: ['staff'], idpIssuer: IDP_ISSUER, sessionIndex, clientAddress: '127.0.0.1',
    issuedAt: new Date(now - 1000), expiresAt: new Date(token.exp * 1000), sid,
  });
  return { sid, ...token };
}

export async function live(db: Db, jti: string): Promise<boolean> {
  const row = await db.kysely.selectFrom('issued_tokens').select('revoked_at').where('jti', '=', jti).executeTakeFirstOrThrow();
  return row.revoked_at === null;
}

export const request = (over: Partial<LogoutRequestFields> = {}) =>
  logoutRequestXml({ issuer: IDP_ISSUER, destination: SLO_URL, nameId: 'alice@example.com', sessionIndexes: ['_s1'], ...over });
export const response = (inResponseTo: string | null, over: Partial<LogoutResponseFields> = {}) =>
  logoutResponseXml({ issuer: IDP_ISSUER, destination: SLO_URL, inResponseTo, ...over });

export const getSlo = (app: App, query: string, accept = 'text/html') => app.inject({ method: 'GET', url: `/saml/slo?${query}`, headers: { accept } });
export const postSlo = (app: App, form: Record<string, string>, accept = 'text/html') =>
  app.inject({ method: 'POST', url: '/saml/slo', headers: { 'content-type': 'application/x-www-form-urlencoded', accept }, payload: new URLSearchParams(form).toString() });

export const counter = async (app: App, name: string, labels: string): Promise<number> => {
  const text = await app.metrics.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? Number.NaN : Number(line.split(' ').pop());
};

/** Keys of an IdP we do not trust (generated once per file). */
export const otherIdpKeys = (): Promise<KeyPair> => (other ??= generateIdpKeys('another IdP'));
