import type { Element } from '@xmldom/xmldom';
import type { SamlSettings } from './config.js';
import { checkLogoutEnvelope, escapeXml, newMessageId, xsDateTime } from './logout-request.js';
import { asSlo, refuseSlo } from './slo-reasons.js';
import { NS, attr, onlyChild } from './xml.js';

export const STATUS = {
  success: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  requester: 'urn:oasis:names:tc:SAML:2.0:status:Requester',
  responder: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
  partialLogout: 'urn:oasis:names:tc:SAML:2.0:status:PartialLogout',
} as const;

/** A verified LogoutResponse from the IdP, answering one of our LogoutRequests. */
export interface ValidatedLogoutResponse {
  id: string;
  /** Our LogoutRequest id: the caller spends it (single use) or refuses `unknown_in_response_to`. */
  inResponseTo: string;
  /** Top-level Success and no PartialLogout second-level status. */
  success: boolean;
}

/**
 * The IdP's LogoutResponse, on its verified root: the envelope checks (issuer, destination, time),
 * an InResponseTo (required: we only ever accept answers to our own requests), the status.
 */
export function checkLogoutResponse(root: Element, cfg: SamlSettings, now: Date): ValidatedLogoutResponse {
  const { id } = checkLogoutEnvelope(root, cfg, now);
  const inResponseTo = attr(root, 'InResponseTo');
  if (inResponseTo === null || inResponseTo === '') refuseSlo('unknown_in_response_to', 'LogoutResponse without InResponseTo');
  const status = asSlo(() => onlyChild(root, NS.protocol, 'Status'));
  const code = status && asSlo(() => onlyChild(status, NS.protocol, 'StatusCode'));
  if (code === null) return refuseSlo('malformed', 'LogoutResponse without a StatusCode');
  const second = asSlo(() => onlyChild(code, NS.protocol, 'StatusCode'));
  const success = attr(code, 'Value') === STATUS.success && (second === null || attr(second, 'Value') !== STATUS.partialLogout);
  return { id, inResponseTo: inResponseTo!, success };
}

/**
 * Our LogoutResponse to an IdP's LogoutRequest (sent signed by redirectUrl to SAML_IDP_SLO_URL).
 * Success when the request was acted on (the sessions it named are ended, or there were none).
 */
export function buildLogoutResponse(cfg: SamlSettings & { idpSloUrl: string }, inResponseTo: string, status: string = STATUS.success, now: Date = new Date()): string {
  return '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
    + ` ID="${newMessageId()}" Version="2.0" IssueInstant="${xsDateTime(now)}" Destination="${escapeXml(cfg.idpSloUrl)}" InResponseTo="${escapeXml(inResponseTo)}">`
    + `<saml:Issuer>${escapeXml(cfg.spEntityId)}</saml:Issuer>`
    + `<samlp:Status><samlp:StatusCode Value="${escapeXml(status)}"/></samlp:Status>`
    + '</samlp:LogoutResponse>';
}
