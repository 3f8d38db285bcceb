/** What the IdP directory tests share: certificates, metadata XML, a metadata server, a recording log. */
import { X509Certificate } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateIdpKeys, type KeyPair } from '../../../services/dev-idp/keys.js';
import { spSettings, type SpSettings } from '../../../services/token-service/saml/config.js';
import { certBody } from '../../../services/token-service/saml/xml.js';
import type { Log } from '../../../services/shared/log.js';
import { ACS_URL, SP_ENTITY } from '../../helpers/idp-sp.js';

export interface Certs {
  a: KeyPair;
  b: KeyPair;
  c: KeyPair;
  sp: KeyPair;
}

export async function makeCerts(): Promise<Certs> {
  const [a, b, c, sp] = await Promise.all([generateIdpKeys('IdP A'), generateIdpKeys('IdP B'), generateIdpKeys('IdP C'), generateIdpKeys('our SP signing')]);
  return { a, b, c, sp };
}

export const SP: SpSettings = spSettings({ spEntityId: SP_ENTITY, acsUrl: ACS_URL });
export const spWithSigning = (certs: Certs): SpSettings => spSettings({ spEntityId: SP_ENTITY, acsUrl: ACS_URL, spSigningKey: certs.sp.key, spSigningCert: certs.sp.cert });

export const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

export interface MetadataOptions {
  signing?: string[];
  /** KeyDescriptor without `use` (signing and encryption). */
  anyUse?: string[];
  encryption?: string[];
  sso?: string;
  slo?: string;
  validUntil?: string;
}

export function entityXml(entityId: string, o: MetadataOptions = {}, ns = ' xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"'): string {
  const kd = (pem: string, use?: string) =>
    `<md:KeyDescriptor${use ? ` use="${use}"` : ''}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n${certBody(pem).match(/.{1,76}/g)!.join('\n')}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
  const keys = [...(o.signing ?? []).map((p) => kd(p, 'signing')), ...(o.anyUse ?? []).map((p) => kd(p)), ...(o.encryption ?? []).map((p) => kd(p, 'encryption'))];
  const sso = o.sso ?? 'https://idp.test.example/sso/redirect';
  return `<md:EntityDescriptor${ns} entityID="${entityId}"${o.validUntil ? ` validUntil="${o.validUntil}"` : ''}>
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    ${keys.join('\n    ')}
    ${o.slo ? `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.test.example/slo/post"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${o.slo}"/>` : ''}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.test.example/sso/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${sso}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
}

export const metadataXml = (entityId: string, o: MetadataOptions = {}): string => `<?xml version="1.0" encoding="UTF-8"?>\n${entityXml(entityId, o)}`;

export interface Answer {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** Never answer (the client's timeout must end it). */
  hang?: boolean;
  /** Stream this many bytes of filler without a content-length. */
  streamBytes?: number;
}

/** An HTTP server on 127.0.0.1 answering each path as told, counting the requests per path. */
export async function metadataServer() {
  const answers = new Map<string, Answer>();
  const hits = new Map<string, number>();
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const a = answers.get(path) ?? { status: 404, body: 'not found' };
    if (a.hang) {
      hanging.add(res);
      return;
    }
    if (a.streamBytes !== undefined) {
      res.writeHead(a.status ?? 200, { 'content-type': 'application/xml' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let left = a.streamBytes;
      const pump = () => {
        while (left > 0) {
          left -= chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => {});
      return pump();
    }
    res.writeHead(a.status ?? 200, { 'content-type': 'application/samlmetadata+xml', ...a.headers }).end(a.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    set: (path: string, answer: Answer) => answers.set(path, answer),
    hits: (path: string) => hits.get(path) ?? 0,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Line {
  level: 'error' | 'warn' | 'info';
  obj: Record<string, unknown>;
  msg: string;
}

export interface RecordingLog {
  log: Log;
  lines: Line[];
  at(level: Line['level']): Line[];
  /** Resolves at the first line (from now on) with this message. */
  next(msg: string): Promise<Line>;
}

export function recordingLog(): RecordingLog {
  const lines: Line[] = [];
  const waiting: { msg: string; resolve: (l: Line) => void }[] = [];
  const rec = (level: Line['level']) => (obj: object, msg: string) => {
    const line = { level, obj: { ...obj } as Record<string, unknown>, msg };
    lines.push(line);
    for (const w of waiting.filter((x) => x.msg === msg)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(line);
    }
  };
  return {
    log: { error: rec('error'), warn: rec('warn'), info: rec('info') },
    lines,
    at: (level) => lines.filter((l) => l.level === level),
    next: (msg) => new Promise((resolve) => waiting.push({ msg, resolve })),
  };
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
