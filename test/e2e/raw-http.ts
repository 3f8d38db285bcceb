/**
 * A minimal HTTP/1.1 client over a raw socket. `fetch` and `http.request` normalise or refuse the
 * request-targets the path-trick scenarios need (`%2e%2e`, `..;`, `\`, raw UTF-8 bytes), so every
 * request of the suite goes through this: the target is written byte for byte, one request per
 * connection. The source address can be chosen (127.0.0.2 is "another network" for ALLOWED_CIDRS).
 */
import { connect } from 'node:net';

export interface RawRequest {
  method?: string;
  /** the request-target, sent as is (a string is sent as latin1 bytes; pass a Buffer for anything else) */
  target: string | Buffer;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** `1.0`: an HTTP/1.0 request line (default 1.1) */
  httpVersion?: '1.0' | '1.1';
  /** send no Host header at all (HTTP/1.0 allows it) */
  noHost?: boolean;
  /** bind the client socket to this local address */
  localAddress?: string;
  timeoutMs?: number;
}

export interface RawResponse {
  status: number;
  /** lower-cased names; repeated headers kept in order */
  headers: Record<string, string[]>;
  body: string;
  /** first value of a header */
  header(name: string): string | undefined;
  json<T = unknown>(): T;
}

export function rawRequest(host: string, port: number, r: RawRequest): Promise<RawResponse> {
  const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
  const headers: Record<string, string> = { host: `${host}:${port}`, connection: 'close', ...r.headers };
  if (r.noHost) delete headers.host;
  if (body !== undefined) headers['content-length'] = String(body.length);
  const head = Buffer.concat([
    Buffer.from(`${r.method ?? 'GET'} `, 'latin1'),
    Buffer.isBuffer(r.target) ? r.target : Buffer.from(r.target, 'latin1'),
    Buffer.from(` HTTP/${r.httpVersion ?? '1.1'}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'latin1'),
  ]);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(r.localAddress ? { localAddress: r.localAddress } : {}) });
    const chunks: Buffer[] = [];
    socket.setTimeout(r.timeoutMs ?? 10_000, () => socket.destroy(new Error(`timeout: ${r.method ?? 'GET'} ${String(r.target)}`)));
    socket.on('connect', () => socket.write(body ? Buffer.concat([head, body]) : head)); // no half-close: NGINX reads it as the client going away (499)
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
  });
}

function parseResponse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`incomplete response: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!status) throw new Error(`not an HTTP response: ${lines[0]}`);
  const headers: Record<string, string[]> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  let payload = raw.subarray(end + 4);
  if (headers['transfer-encoding']?.some((v) => /chunked/i.test(v))) payload = dechunk(payload);
  const body = payload.toString('utf8');
  return {
    status: Number(status[1]),
    headers,
    body,
    header: (name) => headers[name.toLowerCase()]?.[0],
    json: <T>() => JSON.parse(body) as T,
  };
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** The `name=value` of a Set-Cookie header (attributes dropped). */
export function cookiePair(setCookie: string | undefined): string | undefined {
  return setCookie?.split(';')[0]?.trim();
}
