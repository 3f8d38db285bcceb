import { randomBytes } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import type { SamlSettings } from './config.js';
import { issuerOf, subjectOf, trimXmlSpace } from './identity.js';
import { asSlo, refuseSlo } from './slo-reasons.js';
import { NS, attr, children, instant, onlyChild } from './xml.js';

/** What a verified IdP LogoutRequest asks: end these sessions of this NameID. */
export interface ValidatedLogoutRequest {
  id: string;
  issuer: string;
  nameId: string;
  nameIdFormat: string | null;
  /** Empty: every session of the NameID. */
  sessionIndexes: string[];
  /** Until when the id is remembered against replay (the end of its acceptance window). */
  rememberUntil: Date;
}

/**
 * The checks every logout message gets, on its verified root: ID, Issuer = the IdP, Destination =
 * our SLO URL (required: the message is signed, bindings 3.4.5.2/3.5.5.2), IssueInstant within
 * [now - SAML_REQUEST_TTL_SECONDS - skew, now + skew], NotOnOrAfter (requests) not passed.
 * Returns the id and when its acceptance window ends.
 */
export function checkLogoutEnvelope(root: Element, cfg: SamlSettings, now: Date): { id: string; until: Date } {
  const id = attr(root, 'ID');
  if (id === null || id === '' || id.length > 256) refuseSlo('malformed', `${root.localName} without a usable ID`);
  const issuer = asSlo(() => issuerOf(root));
  if (issuer !== cfg.idpIssuer) refuseSlo('wrong_issuer', issuer === null ? `${root.localName} has no Issuer` : `${root.localName} Issuer`);
  const destination = attr(root, 'Destination');
  if (destination !== cfg.sloUrl) refuseSlo('wrong_destination', destination === null ? `${root.localName} has no Destination` : `${root.localName} Destination is not the SLO URL`);
  const issued = asSlo(() => instant(root, 'IssueInstant'));
  if (issued === null) return refuseSlo('malformed', `${root.localName} without IssueInstant`);
  const skewMs = cfg.clockSkewSeconds * 1000;
  const t = now.getTime();
  if (issued.getTime() > t + skewMs) refuseSlo('not_yet_valid', `${root.localName} IssueInstant is in the future`);
  let until = issued.getTime() + cfg.authnRequestTtlSeconds * 1000 + skewMs;
  if (t > until) refuseSlo('expired', `${root.localName} IssueInstant is older than ${cfg.authnRequestTtlSeconds} s`);
  const notOnOrAfter = asSlo(() => instant(root, 'NotOnOrAfter'));
  if (notOnOrAfter !== null) {
    if (t - skewMs >= notOnOrAfter.getTime()) refuseSlo('expired', `${root.localName} NotOnOrAfter passed`);
    until = Math.min(until, notOnOrAfter.getTime() + skewMs);
  }
  return { id, until: new Date(until) };
}

/**
 * An IdP's LogoutRequest, on its verified root. The NameID is normalised as at sign-in (identity.ts),
 * so that it names the same `sub`; an EncryptedID (or BaseID) is not supported (`malformed`). The
 * caller stores the id (replay) and ends the sessions in one transaction.
 */
export function checkLogoutRequest(root: Element, cfg: SamlSettings, now: Date): ValidatedLogoutRequest {
  const { id, until } = checkLogoutEnvelope(root, cfg, now);
  const nameIdEl = asSlo(() => onlyChild(root, NS.assertion, 'NameID'));
  if (nameIdEl === null) return refuseSlo('malformed', 'LogoutRequest without a NameID (EncryptedID and BaseID are not supported)');
  const format = attr(nameIdEl, 'Format');
  const nameId = asSlo(() => subjectOf(nameIdEl.textContent ?? '', format));
  const sessionIndexes = children(root, NS.protocol, 'SessionIndex').map((el) => trimXmlSpace(el.textContent ?? ''));
  if (sessionIndexes.some((s) => s === '' || s.length > 1024)) refuseSlo('malformed', 'an empty or oversized SessionIndex');
  return { id, issuer: cfg.idpIssuer, nameId, nameIdFormat: format, sessionIndexes, rememberUntil: until };
}

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
export const xsDateTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
/** An XML ID (never starting with a digit). */
export const newMessageId = (): string => `_${randomBytes(20).toString('hex')}`;

export interface SpLogoutRequest {
  id: string;
  xml: string;
  /** Until when the IdP's LogoutResponse may answer it. */
  expiresAt: Date;
}

/**
 * Our LogoutRequest (SP-initiated SLO) to the IdP's SLO URL: the user's NameID with its Format, and
 * the SessionIndex of the session being ended (none = every session at the IdP). Sent signed by
 * redirectUrl (HTTP-Redirect binding).
 */
export function buildLogoutRequest(
  cfg: SamlSettings & { idpSloUrl: string },
  who: { nameId: string; nameIdFormat?: string | null; sessionIndex?: string | null },
  now: Date = new Date(),
): SpLogoutRequest {
  const id = newMessageId();
  const format = who.nameIdFormat ?? cfg.nameIdFormat;
  const notOnOrAfter = new Date(now.getTime() + cfg.authnRequestTtlSeconds * 1000);
  const xml = '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
    + ` ID="${id}" Version="2.0" IssueInstant="${xsDateTime(now)}" Destination="${escapeXml(cfg.idpSloUrl)}" NotOnOrAfter="${xsDateTime(notOnOrAfter)}">`
    + `<saml:Issuer>${escapeXml(cfg.spEntityId)}</saml:Issuer>`
    + `<saml:NameID Format="${escapeXml(format)}">${escapeXml(who.nameId)}</saml:NameID>`
    + (who.sessionIndex ? `<samlp:SessionIndex>${escapeXml(who.sessionIndex)}</samlp:SessionIndex>` : '')
    + '</samlp:LogoutRequest>';
  return { id, xml, expiresAt: notOnOrAfter };
}
