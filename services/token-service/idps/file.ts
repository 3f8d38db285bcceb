/**
 * SAML_IDPS_FILE (YAML) → validated {@link IdpFileEntry} list. Every problem is reported at once, one
 * line each, naming the IdP (`idp "okta" (#1)`, or `idp #2` when it has no usable name) and the key.
 * Unknown keys are problems: a typo (`allowIdpInitated`) must never silently fall back to a default.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { splitPem } from '../../shared/jwt-keys.js';
import { secureOrLoopback } from '../../shared/secure-url.js';
import { SIGNATURE_POLICIES, SamlConfigError, withIdp, type IdpSettings, type IdpSettingsInput, type SamlSettings, type SpSettings } from '../saml/config.js';
import { sharedKeyProblems } from './keys.js';
import { IDP_NAME, type IdpFileEntry, type IdpSource } from './types.js';

export type IdpsFileResult = { entries: IdpFileEntry[] } | { problems: string[] };

/** A SAML_IDPS_FILE that cannot be used; `problems` holds every reason, one line each. */
export class IdpsFileError extends Error {
  readonly code = 'IDPS_FILE_INVALID';
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(`invalid IdP file ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'IdpsFileError';
  }
}

/** The keys of one IdP in the file, and the IdP setting each one gives (where it is one). */
const SETTING_KEYS = {
  entityId: 'idpIssuer', certificates: 'idpCerts', ssoUrl: 'idpSsoUrl', sloUrl: 'idpSloUrl',
  emailAttribute: 'emailAttribute', groupsAttribute: 'groupsAttribute', nameIdFormat: 'nameIdFormat',
  allowIdpInitiated: 'allowIdpInitiated', allowTransientNameId: 'allowTransientNameId', signaturePolicy: 'signaturePolicy',
} as const satisfies Record<string, keyof IdpSettings>;
export const IDP_KEYS = ['name', 'displayName', 'metadataUrl', 'metadataRefreshSeconds', 'metadataTimeoutSeconds', ...Object.keys(SETTING_KEYS)];
/** The settings SAML_* gives every IdP of the file unless it says otherwise. */
const DEFAULTABLE = ['emailAttribute', 'groupsAttribute', 'nameIdFormat', 'allowIdpInitiated', 'allowTransientNameId', 'signaturePolicy'] as const;
const FILE_KEY_OF = Object.fromEntries(Object.entries(SETTING_KEYS).map(([k, v]) => [v, k])) as Record<string, string>;

export const METADATA_REFRESH = { default: 3600, min: 10, max: 86_400 } as const;
export const METADATA_TIMEOUT = { default: 5, min: 1, max: 60 } as const;
const DISPLAY_NAME_MAX = 100;
/** Control and format characters (bidi overrides, zero-width): not in a name shown on the chooser page. */
const INVISIBLE = /[\p{Cc}\p{Cf}]/u;

export function parseIdpsFile(text: string, sp: SpSettings, defaults: Partial<IdpSettingsInput>): IdpsFileResult {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { problems: doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`) };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { problems: [`YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`] };
  }
  return validateIdps(value, sp, defaults);
}

/** Reads and validates the file; throws {@link IdpsFileError} (also when it cannot be read). */
export async function loadIdpsFile(path: string, sp: SpSettings, defaults: Partial<IdpSettingsInput>): Promise<{ entries: IdpFileEntry[]; text: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new IdpsFileError(path, [`cannot read: ${err instanceof Error ? err.message : String(err)}`]);
  }
  const result = parseIdpsFile(text, sp, defaults);
  if ('problems' in result) throw new IdpsFileError(path, result.problems);
  return { entries: result.entries, text };
}

/** Validates an already-parsed document: a list of IdPs, or a mapping whose only key `idps` holds it. */
export function validateIdps(value: unknown, sp: SpSettings, defaults: Partial<IdpSettingsInput>): IdpsFileResult {
  let list = value;
  if (isRecord(value)) {
    const extra = Object.keys(value).filter((k) => k !== 'idps');
    if (extra.length > 0) return { problems: extra.map((k) => `unknown top-level key "${k}" (the file is a list of IdPs, or a mapping with the one key "idps")`) };
    list = value.idps;
  }
  if (!Array.isArray(list)) return { problems: ['the file must be a list of IdPs (or a mapping with an "idps" list)'] };
  if (list.length === 0) return { problems: ['the IdP list is empty: configure at least one IdP'] };
  const problems: string[] = [];
  const entries: IdpFileEntry[] = [];
  const names = new Map<string, number>();
  const entityIds = new Map<string, number>();
  list.forEach((raw: unknown, i) => {
    const entry = validateIdp(raw, i + 1, sp, defaults, problems);
    if (entry) entries.push(entry);
    // Duplicates are looked for whatever else is wrong with either IdP: a fix must not reveal new problems.
    if (!isRecord(raw)) return;
    const validName = typeof raw.name === 'string' && IDP_NAME.test(raw.name);
    const label = validName ? `idp "${String(raw.name)}" (#${i + 1})` : `idp #${i + 1}`;
    const sameName = validName ? names.get(raw.name as string) : undefined;
    if (sameName !== undefined) problems.push(`${label}: name: duplicate of idp #${sameName}`);
    else if (validName) names.set(raw.name as string, i + 1);
    if (typeof raw.entityId !== 'string') return;
    const sameEntity = entityIds.get(raw.entityId);
    if (sameEntity !== undefined) problems.push(`${label}: entityId: duplicate of idp #${sameEntity} (a response's Issuer must name one IdP)`);
    else entityIds.set(raw.entityId, i + 1);
  });
  problems.push(...sharedKeyProblems(entries.map((e) => ({ name: e.name, certs: e.settings.idpCerts ?? [] }))));
  return problems.length > 0 ? { problems } : { entries };
}

function validateIdp(raw: unknown, index: number, sp: SpSettings, defaults: Partial<IdpSettingsInput>, problems: string[]): IdpFileEntry | null {
  if (!isRecord(raw)) {
    problems.push(`idp #${index}: must be a mapping`);
    return null;
  }
  const nameOk = typeof raw.name === 'string' && IDP_NAME.test(raw.name);
  const label = nameOk ? `idp "${raw.name as string}" (#${index})` : `idp #${index}`;
  const before = problems.length;
  const problem = (key: string, msg: string) => problems.push(`${label}: ${key}: ${msg}`);

  for (const key of Object.keys(raw)) {
    if (!IDP_KEYS.includes(key)) problems.push(`${label}: unknown key "${key}" (known: ${IDP_KEYS.join(', ')})`);
  }
  if (raw.name === undefined) problem('name', 'required');
  else if (!nameOk) problem('name', `${JSON.stringify(raw.name)} must be 1–32 of a-z 0-9 - (starting with a letter or digit)`);
  const entityId = text(raw, 'entityId', problem, { required: true });
  const displayName = text(raw, 'displayName', problem, { max: DISPLAY_NAME_MAX }) ?? (nameOk ? (raw.name as string) : '');

  const settings: { -readonly [K in keyof IdpSettingsInput]?: IdpSettingsInput[K] } = {};
  for (const key of DEFAULTABLE) if (defaults[key] !== undefined) (settings as Record<string, unknown>)[key] = defaults[key];
  if (entityId !== undefined) settings.idpIssuer = entityId;
  for (const key of ['ssoUrl', 'sloUrl'] as const) {
    const url = text(raw, key, problem);
    if (url === undefined) continue;
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) problem(key, 'must be an absolute http(s) URL');
    else settings[SETTING_KEYS[key]] = url;
  }
  if (raw.sloUrl !== undefined && sp.spSigningKey === undefined) problem('sloUrl', 'needs the SP signing key and certificate (SAML_SP_SIGNING_KEY, SAML_SP_SIGNING_CERT): logout messages are signed');
  for (const key of ['emailAttribute', 'groupsAttribute', 'nameIdFormat'] as const) {
    const v = text(raw, key, problem);
    if (v !== undefined) settings[key] = v;
  }
  if (settings.nameIdFormat !== undefined && !/^urn:\S+$/.test(settings.nameIdFormat)) problem('nameIdFormat', 'must be a NameID format URN');
  for (const key of ['allowIdpInitiated', 'allowTransientNameId'] as const) {
    if (raw[key] === undefined) continue;
    if (typeof raw[key] !== 'boolean') problem(key, 'must be true or false');
    else settings[key] = raw[key];
  }
  if (raw.signaturePolicy !== undefined) {
    const policy = SIGNATURE_POLICIES.find((p) => p === raw.signaturePolicy);
    if (policy === undefined) problem('signaturePolicy', `must be one of ${SIGNATURE_POLICIES.join(', ')}`);
    else settings.signaturePolicy = policy;
  }

  const source = validateSource(raw, problem, settings);
  if (problems.length > before || !nameOk || entityId === undefined || source === null) return null;
  if (source.kind === 'certificates') {
    // The file gave everything: check the IdP exactly as a response will be checked with it.
    try {
      withIdp(sp, settings as IdpSettingsInput);
    } catch (err) {
      if (!(err instanceof SamlConfigError)) throw err;
      problem(fileKey(err.field), err.message.replace(/^SAML setting \S+: /, ''));
      return null;
    }
  }
  return { name: raw.name as string, entityId, displayName, source, settings: Object.freeze(settings) };
}

/** Exactly one of `certificates` and `metadataUrl`; the metadata-only keys only with `metadataUrl`. */
function validateSource(raw: Record<string, unknown>, problem: (key: string, msg: string) => void, settings: Partial<IdpSettingsInput>): IdpSource | null {
  const hasCerts = raw.certificates !== undefined;
  const hasUrl = raw.metadataUrl !== undefined;
  if (hasCerts === hasUrl) {
    problem(hasCerts ? 'certificates' : 'metadataUrl', hasCerts ? 'give either certificates or metadataUrl, not both' : 'required: certificates (PEM) or metadataUrl');
    return null;
  }
  if (hasCerts) {
    for (const key of ['metadataRefreshSeconds', 'metadataTimeoutSeconds']) if (raw[key] !== undefined) problem(key, 'only with metadataUrl');
    const certs = certificates(raw.certificates, problem);
    if (certs !== null) (settings as { idpCerts?: string[] }).idpCerts = certs;
    if (raw.ssoUrl === undefined) problem('ssoUrl', 'required with certificates (with metadataUrl it comes from the metadata)');
    return certs === null ? null : { kind: 'certificates' };
  }
  const url = raw.metadataUrl;
  if (typeof url !== 'string' || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    problem('metadataUrl', 'must be an absolute https URL');
    return null;
  }
  if (!secureOrLoopback(url)) {
    problem('metadataUrl', 'must be https (plain http only to a loopback address): whoever can answer it chooses the certificates responses are checked with');
    return null;
  }
  const refreshSeconds = seconds(raw, 'metadataRefreshSeconds', METADATA_REFRESH, problem);
  const timeoutSeconds = seconds(raw, 'metadataTimeoutSeconds', METADATA_TIMEOUT, problem);
  if (refreshSeconds === null || timeoutSeconds === null) return null;
  return { kind: 'metadata', url, refreshSeconds, timeoutSeconds };
}

/** `certificates`: PEM text (or a list of PEM texts) holding one or more X.509 certificates. */
function certificates(value: unknown, problem: (key: string, msg: string) => void): string[] | null {
  const texts = typeof value === 'string' ? [value] : Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : null;
  if (texts === null) {
    problem('certificates', 'must be PEM text (or a list of PEM texts)');
    return null;
  }
  const pems = texts.flatMap((t) => splitPem(t, /CERTIFICATE/));
  if (pems.length === 0) {
    problem('certificates', 'expected one or more PEM certificates (-----BEGIN CERTIFICATE-----)');
    return null;
  }
  let ok = true;
  pems.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch {
      problem(`certificates[${i}]`, 'is not an X.509 certificate');
      ok = false;
    }
  });
  return ok ? pems : null;
}

function seconds(raw: Record<string, unknown>, key: string, range: { default: number; min: number; max: number }, problem: (key: string, msg: string) => void): number | null {
  const v = raw[key];
  if (v === undefined) return range.default;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) {
    problem(key, `must be a whole number of seconds from ${range.min} to ${range.max}`);
    return null;
  }
  return v;
}

/** A string key: non-empty once trimmed, no control or format characters, at most `max` characters. */
function text(raw: Record<string, unknown>, key: string, problem: (key: string, msg: string) => void, opts: { required?: boolean; max?: number } = {}): string | undefined {
  const v = raw[key];
  if (v === undefined) {
    if (opts.required) problem(key, 'required');
    return undefined;
  }
  if (typeof v !== 'string' || v.trim() === '') problem(key, 'must be a non-empty string');
  else if (INVISIBLE.test(v)) problem(key, 'must not hold control or invisible characters');
  else if (v !== v.trim()) problem(key, 'must not start or end with white space');
  else if (opts.max !== undefined && [...v].length > opts.max) problem(key, `must be at most ${opts.max} characters`);
  else return v;
  return undefined;
}

/** The file's key for a settings field named by a SamlConfigError. */
function fileKey(field: keyof SamlSettings): string {
  return FILE_KEY_OF[field] ?? field;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
