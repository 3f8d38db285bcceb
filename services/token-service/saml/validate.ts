import type { SamlSettings } from './config.js';
import { checkAssertion, type ValidatedAssertion } from './assertion.js';
import { decodeSamlResponse } from './decode.js';
import { reject } from './reasons.js';
import { checkResponse, checkStatus, resolveInResponseTo } from './response.js';
import { responseRoot, verifySignatures } from './signatures.js';
import { parseXml } from './xml.js';

export type { ValidatedAssertion } from './assertion.js';

/**
 * Validates a base64 SAML Response (HTTP-POST binding) completely, except the two checks that need
 * Postgres and are the caller's: `InResponseTo` names an outstanding, unused request
 * (`unknown_in_response_to`) and the assertion id was never used (`replay`).
 *
 * Order: guards before parsing (size, base64, DTD, UTF-8) → well-formed samlp:Response → Success
 * status → weak algorithms, exactly one assertion, decryption, signature policy and verification →
 * the Response checks (response.ts: an unsigned Response can only add refusals) → the assertion
 * checks on the verified assertion → `InResponseTo` from signed data only. Throws `SamlRejection`
 * for every refusal.
 */
export async function validateSamlResponse(samlResponseBase64: string, cfg: SamlSettings, now: Date = new Date()): Promise<ValidatedAssertion> {
  const xml = decodeSamlResponse(samlResponseBase64, cfg.maxResponseBytes);
  const doc = parseXml(xml);
  const root = responseRoot(doc);
  checkStatus(root);
  const parts = await verifySignatures(xml, doc, cfg);
  checkResponse(parts, cfg, now);
  const { confirmationInResponseTo, ...facts } = checkAssertion(parts.assertion, cfg, now);
  return { ...facts, inResponseTo: resolveInResponseTo(parts, confirmationInResponseTo, cfg) };
}
