/**
 * The application behind NGINX in the end-to-end suite and the demo: records every request it serves
 * (method, raw request-target, the headers that matter, body size, the connection it came on) and
 * echoes the record as JSON. Tests assert on the record — what really reached the application — not
 * only on status codes.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamRecord {
  method: string;
  /** the request-target exactly as NGINX sent it (not decoded, not normalised) */
  url: string;
  host: string | undefined;
  user: string | undefined;
  email: string | undefined;
  groups: string | undefined;
  /** X-Auth-Request-Jwt: the authz-service's signed assertion, as NGINX passed it */
  jwt: string | undefined;
  realIp: string | undefined;
  forwardedFor: string | undefined;
  /** every header, lower-cased names (repeated ones joined by Node's rules) */
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  body: string;
  /** the NGINX-side port of the connection: equal ports = a reused (keepalive) connection */
  remotePort: number | undefined;
}

export interface EchoUpstream {
  server: Server;
  port: number;
  /** every request served, oldest first */
  records: UpstreamRecord[];
  /** forgets the records (call before a scenario whose record is asserted to be empty) */
  clear(): void;
  close(): Promise<void>;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

export async function startEchoUpstream(host = '127.0.0.1', port = 0): Promise<EchoUpstream> {
  const records: UpstreamRecord[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const record: UpstreamRecord = {
        method: req.method ?? '',
        url: req.url ?? '',
        host: header(req, 'host'),
        user: header(req, 'x-auth-request-user'),
        email: header(req, 'x-auth-request-email'),
        groups: header(req, 'x-auth-request-groups'),
        jwt: header(req, 'x-auth-request-jwt'),
        realIp: header(req, 'x-real-ip'),
        forwardedFor: header(req, 'x-forwarded-for'),
        headers: { ...req.headers },
        bodyBytes: body.length,
        body: body.subarray(0, 4096).toString('utf8'),
        remotePort: req.socket.remotePort,
      };
      records.push(record);
      const payload = JSON.stringify({ reached: 'upstream', ...record, headers: undefined }, null, 2);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
  });
  server.keepAliveTimeout = 65_000; // longer than NGINX's upstream keepalive_timeout (60 s), as a well-behaved upstream does
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    records,
    clear: () => void records.splice(0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
