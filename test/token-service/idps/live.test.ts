import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { withIdp } from '../../../services/token-service/saml/config.js';
import { IdpsFileError } from '../../../services/token-service/idps/file.js';
import { startIdpDirectory, type IdpDirectoryOptions } from '../../../services/token-service/idps/live.js';
import { idpMetrics } from '../../../services/token-service/idps/metrics.js';
import type { ManagedIdpDirectory } from '../../../services/token-service/idps/types.js';
import { SP, closedPort, fingerprint, makeCerts, metadataServer, metadataXml, recordingLog, type RecordingLog } from './fixtures.js';

const certs = await makeCerts();
const server = await metadataServer();
const dir = await mkdtemp(join(tmpdir(), 'idps-live-'));
t.teardown(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const OKTA = 'http://www.okta.com/exk1';
const CLINIC = 'https://clinic.example/idp';
const clinic = (over: Record<string, unknown> = {}) => ({ name: 'clinic', entityId: CLINIC, certificates: certs.a.cert, ssoUrl: 'https://clinic.example/sso', ...over });
const okta = (path: string, over: Record<string, unknown> = {}) => ({ name: 'okta', entityId: OKTA, metadataUrl: server.url(path), ...over });
const fps = (pems: readonly string[] | undefined) => (pems ?? []).map(fingerprint);

let files = 0;
/** A fresh IdP file (its own path per test) and a function that rewrites it. */
async function idpsFile(list: unknown): Promise<{ path: string; write: (next: unknown) => Promise<void> }> {
  const path = join(dir, `idps-${++files}.yaml`);
  const write = (next: unknown) => writeFile(path, typeof next === 'string' ? next : stringify(next));
  await write(list);
  return { path, write };
}

interface Started {
  idps: ManagedIdpDirectory;
  rec: RecordingLog;
  registry: Registry;
  metric: (line: string) => Promise<boolean>;
}

async function start(t: Test, path: string, over: Partial<IdpDirectoryOptions> = {}): Promise<Started> {
  const rec = recordingLog();
  const registry = new Registry();
  const idps = await startIdpDirectory({ file: path, sp: SP, defaults: { emailAttribute: 'mail' }, log: rec.log, metrics: idpMetrics(registry), pollIntervalMs: 0, ...over });
  t.teardown(() => idps.close());
  const metric = async (line: string) => (await registry.metrics()).split('\n').includes(line);
  return { idps, rec, registry, metric };
}

t.test('a certificate IdP and a metadata IdP are both usable after start', async (t) => {
  server.set('/start', { body: metadataXml(OKTA, { signing: [certs.b.cert], sso: 'https://okta.example/sso' }) });
  const { path } = await idpsFile([clinic(), okta('/start', { displayName: 'Okta (staff)' })]);
  const { idps, rec, metric } = await start(t, path);
  t.same(idps.list().map((e) => e.name), ['clinic', 'okta'], 'file order');
  const c = idps.byEntityId(CLINIC);
  t.same(fps(c?.settings?.idpCerts), [fingerprint(certs.a.cert)]);
  t.equal(c?.settings?.emailAttribute, 'mail', 'the defaults apply');
  t.equal(c?.displayName, 'clinic');
  const o = idps.byName('okta');
  t.equal(o?.displayName, 'Okta (staff)');
  t.same(o?.settings, withIdp(SP, { idpIssuer: OKTA, idpCerts: o?.settings?.idpCerts ?? [], idpSsoUrl: 'https://okta.example/sso', emailAttribute: 'mail' }), 'ours and the metadata\'s, merged');
  t.same(fps(o?.settings?.idpCerts), [fingerprint(certs.b.cert)]);
  t.equal(idps.byEntityId('urn:unknown'), undefined);
  t.same(rec.at('info').find((l) => l.msg === 'IdP metadata loaded')?.obj, { idp: 'okta', url: server.url('/start'), certificates: [fingerprint(certs.b.cert)] });
  t.ok(await metric('saml_idp_metadata_ok{idp="okta"} 1'));
  t.ok(await metric('saml_idp_metadata_refresh_total{idp="okta",result="ok"} 1'));
  t.notOk(await metric('saml_idp_metadata_ok{idp="clinic"} 0'), 'no metadata series for a certificate IdP');
});

t.test('certificate rollover from metadata: old, old and new, new only', async (t) => {
  const doc = (...pems: string[]) => ({ body: metadataXml(OKTA, { signing: pems }) });
  server.set('/rollover', doc(certs.a.cert));
  const { path } = await idpsFile([okta('/rollover')]);
  const { idps, rec } = await start(t, path);
  const certsNow = () => fps(idps.byEntityId(OKTA)?.settings?.idpCerts);
  t.same(certsNow(), [fingerprint(certs.a.cert)], 'old');
  server.set('/rollover', doc(certs.a.cert, certs.b.cert));
  await idps.refreshMetadata('okta');
  t.same(certsNow(), [fingerprint(certs.a.cert), fingerprint(certs.b.cert)], 'old and new');
  t.same(rec.lines.at(-1), { level: 'info', msg: 'IdP certificates changed in its metadata', obj: {
    idp: 'okta', certificates: [fingerprint(certs.a.cert), fingerprint(certs.b.cert)], added: [fingerprint(certs.b.cert)], removed: [],
  } });
  server.set('/rollover', doc(certs.b.cert));
  await idps.refreshMetadata();
  t.same(certsNow(), [fingerprint(certs.b.cert)], 'new only');
  t.same(rec.lines.at(-1)?.obj, { idp: 'okta', certificates: [fingerprint(certs.b.cert)], added: [], removed: [fingerprint(certs.a.cert)] });
  const before = rec.lines.length;
  await idps.refreshMetadata('okta');
  t.equal(rec.lines.length, before, 'an unchanged refresh logs nothing');
  t.notOk(rec.lines.some((l) => JSON.stringify(l).includes('BEGIN CERTIFICATE')), 'never a whole certificate in the log');
  await t.rejects(idps.refreshMetadata('nobody'), { message: 'no IdP "nobody" with a metadata URL' });
});

t.test('a failed refresh keeps the last good metadata', async (t) => {
  server.set('/flaky', { body: metadataXml(OKTA, { signing: [certs.a.cert] }) });
  const { path } = await idpsFile([okta('/flaky')]);
  const { idps, rec, metric } = await start(t, path);
  const good = idps.byEntityId(OKTA)?.settings;
  t.ok(good);
  for (const answer of [{ status: 500 }, { body: metadataXml('urn:impostor', { signing: [certs.c.cert] }) }]) {
    server.set('/flaky', answer);
    await idps.refreshMetadata('okta');
    t.equal(idps.byEntityId(OKTA)?.settings, good, 'the same settings stay in force');
    t.equal(rec.lines.at(-1)?.level, 'warn');
    t.equal(rec.lines.at(-1)?.msg, 'IdP metadata refresh failed; keeping the last good metadata');
  }
  t.match(rec.at('warn')[0]?.obj, { idp: 'okta', error: `IdP metadata: ${server.url('/flaky')} answered 500` });
  t.match(rec.at('warn')[1]?.obj, { idp: 'okta', error: 'IdP metadata: entityID is "urn:impostor", not the configured "http://www.okta.com/exk1"' });
  t.ok(await metric('saml_idp_metadata_ok{idp="okta"} 0'), 'the gauge says the last fetch failed');
  t.ok(await metric('saml_idp_metadata_refresh_total{idp="okta",result="error"} 2'));
  server.set('/flaky', { body: metadataXml(OKTA, { signing: [certs.a.cert] }) });
  await idps.refreshMetadata('okta');
  t.ok(await metric('saml_idp_metadata_ok{idp="okta"} 1'), 'and recovers');
  t.equal(rec.lines.at(-1)?.msg, 'IdP metadata fetched again after a failure');
});

t.test('an IdP whose metadata cannot be fetched at start is reported; the others work', async (t) => {
  const port = await closedPort();
  server.set('/late', { status: 503 });
  server.set('/fine', { body: metadataXml('urn:fine', { signing: [certs.c.cert] }) });
  const { path } = await idpsFile([
    clinic(), okta('/late'),
    { name: 'gone', entityId: 'urn:gone', metadataUrl: `http://127.0.0.1:${port}/md` },
    { name: 'fine', entityId: 'urn:fine', metadataUrl: server.url('/fine') },
  ]);
  const { idps, rec, metric } = await start(t, path);
  t.same(idps.list().map((e) => [e.name, e.settings !== undefined]), [['clinic', true], ['okta', false], ['gone', false], ['fine', true]]);
  const errors = rec.at('error').filter((l) => l.msg === 'IdP metadata could not be fetched; the IdP is unavailable until it is');
  t.same(errors.map((l) => l.obj.idp).sort(), ['gone', 'okta']);
  t.match(errors.find((l) => l.obj.idp === 'gone')?.obj.error, /could not be fetched \(ECONNREFUSED\)$/);
  t.ok(await metric('saml_idp_metadata_ok{idp="gone"} 0'));
  server.set('/late', { body: metadataXml(OKTA, { signing: [certs.b.cert] }) });
  await idps.refreshMetadata('okta');
  t.same(fps(idps.byEntityId(OKTA)?.settings?.idpCerts), [fingerprint(certs.b.cert)], 'usable once its metadata answers');
});

t.test('start waits no longer than the metadata timeout', async (t) => {
  server.set('/hang', { hang: true });
  const { path } = await idpsFile([clinic(), okta('/hang', { metadataTimeoutSeconds: 1 })]);
  const began = Date.now();
  const { idps, rec } = await start(t, path);
  const took = Date.now() - began;
  t.ok(took >= 900 && took < 2000, `start took ${took} ms`);
  t.equal(idps.byName('okta')?.settings, undefined);
  t.ok(idps.byName('clinic')?.settings);
  t.match(rec.at('error')[0]?.obj, { idp: 'okta', error: `IdP metadata: ${server.url('/hang')} did not answer within 1000 ms` });
  const refreshing = idps.refreshMetadata('okta');
  const closing = Date.now();
  await idps.close();
  await refreshing;
  t.ok(Date.now() - closing < 500, 'close ends a fetch in flight');
});

t.test('a bad file at start is refused with every problem', async (t) => {
  const { path } = await idpsFile([clinic({ ssoUrl: undefined }), okta('/x', { metadataTimeoutSeconds: 0 })]);
  await t.rejects(startIdpDirectory({ file: path, sp: SP, defaults: {}, log: recordingLog().log }), new IdpsFileError(path, [
    'idp "clinic" (#1): ssoUrl: required with certificates (with metadataUrl it comes from the metadata)',
    'idp "okta" (#2): metadataTimeoutSeconds: must be a whole number of seconds from 1 to 60',
  ]));
  await t.rejects(startIdpDirectory({ file: join(dir, 'missing.yaml'), sp: SP, defaults: {}, log: recordingLog().log }), { code: 'IDPS_FILE_INVALID' });
});

t.test('hot reload: a good change applies, a bad file keeps the last good, a fixed file applies', async (t) => {
  server.set('/reload', { body: metadataXml(OKTA, { signing: [certs.b.cert] }) });
  const { path, write } = await idpsFile([clinic(), okta('/reload')]);
  const { idps, rec, metric } = await start(t, path);
  t.equal(server.hits('/reload'), 1);

  await write([clinic({ certificates: certs.c.cert, displayName: 'Clinic' }), okta('/reload', { groupsAttribute: 'memberOf' })]);
  t.equal(await idps.reloadFile(), true, 'a good change applies');
  t.same(fps(idps.byName('clinic')?.settings?.idpCerts), [fingerprint(certs.c.cert)]);
  t.equal(idps.byName('clinic')?.displayName, 'Clinic');
  t.equal(idps.byName('okta')?.settings?.groupsAttribute, 'memberOf', 'new file settings over the metadata kept');
  t.same(fps(idps.byName('okta')?.settings?.idpCerts), [fingerprint(certs.b.cert)]);
  t.equal(server.hits('/reload'), 1, 'same entity id and URL: the metadata is not fetched again');
  t.equal(await idps.reloadFile(), false, 'an unchanged file is not reloaded');

  const inForce = idps.list();
  await write([clinic({ certificates: 'not a certificate' }), okta('/reload', { signatrePolicy: 'both' })]);
  t.equal(await idps.reloadFile(), false, 'a bad file is refused');
  t.equal(idps.list(), inForce, 'the last good list stays');
  t.same(rec.at('error').map((l) => [l.msg, l.obj]), [
    ['IdP file reload refused; keeping the last good IdP list', { file: path, problem: 'idp "clinic" (#1): certificates: expected one or more PEM certificates (-----BEGIN CERTIFICATE-----)' }],
    ['IdP file reload refused; keeping the last good IdP list', { file: path, problem: 'idp "okta" (#2): unknown key "signatrePolicy" (known: name, displayName, metadataUrl, metadataRefreshSeconds, metadataTimeoutSeconds, entityId, certificates, ssoUrl, sloUrl, emailAttribute, groupsAttribute, nameIdFormat, allowIdpInitiated, allowTransientNameId, signaturePolicy)' }],
  ], 'each problem logged with the file name');
  t.ok(await metric('saml_idps_reload_total{result="error"} 1'));

  await write([clinic(), { ...okta('/reload'), name: 'okta-staff' }]);
  t.equal(await idps.reloadFile(), true, 'a renamed IdP');
  t.equal(server.hits('/reload'), 1, 'keeps its metadata');
  t.ok(await metric('saml_idp_metadata_ok{idp="okta-staff"} 1'), 'and its state, under the new name');
  t.notOk(await metric('saml_idp_metadata_ok{idp="okta"} 1'), 'the old name leaves no series');

  server.set('/moved-here', { body: metadataXml(OKTA, { signing: [certs.c.cert] }) });
  await write([okta('/moved-here'), clinic()]);
  t.equal(await idps.reloadFile(), true, 'the fixed file applies');
  t.same(idps.list().map((e) => e.name), ['okta', 'clinic']);
  t.equal(server.hits('/moved-here'), 1, 'a new metadata URL is fetched');
  t.same(fps(idps.byName('okta')?.settings?.idpCerts), [fingerprint(certs.c.cert)]);
  t.ok(await metric('saml_idps_reload_total{result="ok"} 3'));

  await write([clinic()]);
  t.equal(await idps.reloadFile(), true);
  t.same(idps.list().map((e) => e.name), ['clinic']);
  t.notOk((await metric('saml_idp_metadata_ok{idp="okta"} 1')) || (await metric('saml_idp_metadata_ok{idp="okta"} 0')), 'a removed IdP leaves no series');
});

t.test('the file is polled: a change applies without a call', async (t) => {
  const { path, write } = await idpsFile([clinic()]);
  const { idps, rec } = await start(t, path, { pollIntervalMs: 20 });
  const reloaded = rec.next('IdP list reloaded');
  await write([clinic({ displayName: 'Polled' })]);
  await reloaded;
  t.equal(idps.byName('clinic')?.displayName, 'Polled');
});

t.test('the single-IdP variables give a fixed directory', async (t) => {
  const settings = withIdp(SP, { idpIssuer: OKTA, idpCerts: [certs.a.cert], idpSsoUrl: 'https://okta.example/sso' });
  const idps = await startIdpDirectory({ envIdp: { name: 'default', entityId: OKTA, displayName: 'default', settings }, sp: SP, defaults: {}, log: recordingLog().log });
  t.same(idps.list().map((e) => e.name), ['default']);
  t.equal(idps.byEntityId(OKTA)?.settings, settings);
  t.equal(await idps.reloadFile(), false);
  await idps.close();
  await t.rejects(startIdpDirectory({ sp: SP, defaults: {}, log: recordingLog().log }), { message: 'startIdpDirectory: give exactly one of file and envIdp' });
});

t.test('a metadata refresh bringing another IdP\'s signing key is refused; the last good copy stays', async (t) => {
  server.set('/takeover', { body: metadataXml(OKTA, { signing: [certs.b.cert] }) });
  const { path } = await idpsFile([clinic(), okta('/takeover')]);
  const { idps, rec } = await start(t, path);
  const good = idps.byEntityId(OKTA)?.settings;
  t.same(fps(good?.idpCerts), fps([certs.b.cert]));
  // The okta metadata now lists the clinic's key (certs.a) beside its own.
  server.set('/takeover', { body: metadataXml(OKTA, { signing: [certs.b.cert, certs.a.cert] }) });
  await idps.refreshMetadata('okta');
  t.equal(idps.byEntityId(OKTA)?.settings, good, 'the last good settings stay');
  t.match(rec.at('warn').at(-1)?.obj, { idp: 'okta', error: /idp "okta": certificates: its signing key is also idp "clinic"'s/ });

  // A reload giving the clinic the key okta's metadata holds is refused too.
  const inForce = idps.list();
  await writeFile(path, stringify([clinic({ certificates: certs.b.cert }), okta('/takeover')]));
  t.equal(await idps.reloadFile(), false, 'refused');
  t.equal(idps.list(), inForce, 'the last good list stays');
  t.match(rec.at('error').at(-1)?.obj, { problem: /idp "okta": certificates: its signing key is also idp "clinic"'s/ });
});

t.test('the last good metadata is kept through failed refreshes, but not past its own validUntil', async (t) => {
  const soon = new Date(Date.now() + 1500).toISOString();
  server.set('/expiring', { body: metadataXml(OKTA, { signing: [certs.b.cert], validUntil: soon }) });
  const { path } = await idpsFile([okta('/expiring')]);
  const { idps, rec } = await start(t, path);
  t.ok(idps.byEntityId(OKTA)?.settings, 'usable while valid');
  server.set('/expiring', { status: 503 });
  await idps.refreshMetadata('okta');
  t.ok(idps.byEntityId(OKTA)?.settings, 'a failed refresh before validUntil keeps the copy');
  await new Promise((r) => setTimeout(r, 1600));
  await idps.refreshMetadata('okta');
  t.equal(idps.byEntityId(OKTA)?.settings, undefined, 'after validUntil, a failed refresh makes the IdP unavailable');
  t.equal(rec.at('error').filter((l) => /expired \(validUntil\)/.test(l.msg) && (l.obj as { valid_until?: string }).valid_until === soon).length, 1, 'logged once, with the date');
});
