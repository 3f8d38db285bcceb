import type { Document } from '@xmldom/xmldom';
import type { SamlSettings, SpSettings } from './config.js';
import { checkAssertion, type ValidatedAssertion } from './assertion.js';
import { decodeSamlResponse } from './decode.js';
import { SamlRejection, reject } from './reasons.js';
import { checkResponse, checkStatus, resolveInResponseTo } from './response.js';
import { readRawAssertion, responseRoot, verifySignatures, type RawAssertion } from './signatures.js';
import { NS, certBody, descendantsNamed, parseXml } from './xml.js';
import { issuerOf } from './identity.js';
import { envIdpEntry, fixedDirectory } from '../idps/directory.js';
import type { IdpDirectory, IdpEntry } from '../idps/types.js';

export type { ValidatedAssertion } from './assertion.js';

/** A validated assertion and the configured IdP that issued it. */
export interface IdpAssertion {
  assertion: ValidatedAssertion;
  idp: IdpEntry;
}

/**
 * Validates a base64 SAML Response (HTTP-POST binding) completely against the one configured IdP its
 * assertion's Issuer names, with that IdP's certificates only; except the two checks that need
 * Postgres and are the caller's: `InResponseTo` names an outstanding, unused request for that IdP
 * (`unknown_in_response_to`, `idp_mismatch`) and the assertion id was never used (`replay`).
 *
 * Order: guards before parsing (size, base64, DTD, UTF-8) → well-formed samlp:Response → Success
 * status → weak algorithms, exactly one assertion, decryption → the IdP (`unknown_idp`,
 * `idp_unavailable`) → signature policy and verification with its certificates (a signature that
 * another configured IdP's key makes: `cross_idp_signature`) → the Response checks (response.ts: an
 * unsigned Response can only add refusals) → the assertion checks on the verified assertion →
 * `InResponseTo` from signed data only. Throws `SamlRejection` for every refusal.
 *
 * The Issuer that chooses the IdP is read before any signature is verified: it only chooses whose keys
 * must have signed, and the verified assertion's Issuer must then be that IdP's (`wrong_issuer`). The
 * Response's Issuer, which nothing may sign, never chooses. With exactly one IdP configured, every
 * response is checked against it (an unknown Issuer is then `wrong_issuer`, as it always was).
 */
export async function validateFromIdps(samlResponseBase64: string, sp: SpSettings, idps: IdpDirectory, now: Date = new Date()): Promise<IdpAssertion> {
  const xml = decodeSamlResponse(samlResponseBase64, sp.maxResponseBytes);
  const doc = parseXml(xml);
  checkStatus(responseRoot(doc));
  const raw = await readRawAssertion(xml, doc, sp);
  const idp = chooseIdp(raw, idps);
  try {
    return { idp, assertion: await checkWithIdp(xml, doc, raw, idp, idps, now) };
  } catch (err) {
    if (err instanceof SamlRejection) err.idp = idp;
    throw err;
  }
}

async function checkWithIdp(xml: string, doc: Document, raw: RawAssertion, idp: IdpEntry, idps: IdpDirectory, now: Date): Promise<ValidatedAssertion> {
  const cfg = idp.settings;
  if (cfg === undefined) return reject('idp_unavailable', `the IdP ${idp.name} has no certificates yet (its metadata was never fetched)`);
  const parts = await verifySignatures(xml, doc, cfg, raw).catch((err: unknown) => {
    if (err instanceof SamlRejection && err.reason === 'bad_signature') {
      const carrier = certificateCarrier(doc, raw, idp, idps);
      if (carrier !== undefined) reject('cross_idp_signature', `the assertion names ${idp.name}; its signature carries ${carrier.name}'s certificate`);
    }
    throw err;
  });
  checkResponse(parts, cfg, now);
  const { confirmationInResponseTo, ...facts } = checkAssertion(parts.assertion, cfg, now);
  return { ...facts, inResponseTo: resolveInResponseTo(parts, confirmationInResponseTo, cfg) };
}

/** One IdP's settings: what the single-IdP variables give (and what most tests use). */
export async function validateSamlResponse(samlResponseBase64: string, cfg: SamlSettings, now: Date = new Date()): Promise<ValidatedAssertion> {
  const only = fixedDirectory([envIdpEntry(cfg)]);
  return (await validateFromIdps(samlResponseBase64, cfg, only, now)).assertion;
}

function chooseIdp(raw: RawAssertion, idps: IdpDirectory): IdpEntry {
  const all = idps.list();
  const issuer = issuerOf(raw.assertion);
  const named = issuer === null ? undefined : idps.byEntityId(issuer);
  if (named !== undefined) return named;
  const [only] = all;
  if (all.length === 1 && only !== undefined) return only;
  return reject('unknown_idp', issuer === null ? 'the assertion has no Issuer' : 'the assertion\'s Issuer is not a configured IdP');
}

/**
 * Another configured IdP whose certificate the refused document's signatures carry in their KeyInfo:
 * only a name for the refusal (`cross_idp_signature`), never trusted and never verified again — a
 * refused document costs one verification however many IdPs are configured. Certificates are compared
 * by their base64 DER text; a signature without KeyInfo stays `bad_signature`.
 */
function certificateCarrier(doc: Document, raw: RawAssertion, named: IdpEntry, idps: IdpDirectory): IdpEntry | undefined {
  const carried = new Set<string>();
  for (const root of [doc, raw.assertion]) {
    for (const el of descendantsNamed(root, ['X509Certificate']).slice(0, MAX_CARRIED)) {
      if (el.namespaceURI === NS.dsig) carried.add(certBody(el.textContent ?? ''));
    }
  }
  if (carried.size === 0) return undefined;
  return idps.list().find((other) => other !== named && other.settings?.idpCerts.some((pem) => carried.has(certBody(pem))));
}

/** At most this many KeyInfo certificates are looked at in a refused document. */
const MAX_CARRIED = 8;
