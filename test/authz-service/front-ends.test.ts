import t from 'tap';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { mintLive, newSigningKey } from '../helpers/tokens.js';
import { rawRequest } from '../helpers/http.js';
import { serve } from '../../services/shared/server.js';

const key = newSigningKey();
/** What ingress-nginx sends: X-Original-URL, X-Original-Method and X-Auth-Request-Redirect ($request_uri). */
const ingress = (url: string, method = 'GET') => {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return { 'x-original-url': url, 'x-original-method': method, 'x-auth-request-redirect': slash < 0 ? '/' : url.slice(slash) };
};

interface Row {
  name: string;
  url?: string;
  method?: string;
  headers: Record<string, string>;
  status: number;
  message?: string;
}

const cases: Record<string, Row[]> = {
  'ingress-nginx': [
    { name: 'allowed', headers: ingress('https://app.example.com/app/x?q=1'), status: 200 },
    { name: 'denied by rule', headers: ingress('https://app.example.com/app/secrets/k'), status: 403 },
    { name: 'method from X-Original-Method', headers: ingress('https://app.example.com/api/x', 'DELETE'), status: 200 },
    { name: 'not absolute', headers: ingress('/app/x'), status: 403, message: 'bad_url' },
    { name: 'empty authority', headers: ingress('https:///app/x'), status: 403, message: 'bad_host' },
    { name: 'userinfo in the authority', headers: ingress('https://evil@app.example.com/app/x'), status: 403, message: 'bad_host' },
    { name: 'backslash in the authority', headers: ingress('https://app.example.com\\@evil/app/x'), status: 403, message: 'bad_host' },
    { name: 'a "?" after the authority (Host: app.example.com:443?) moves the path', headers: { ...ingress('https://app.example.com:443?/app/secrets/k'), 'x-auth-request-redirect': '/app/secrets/k' }, status: 403, message: 'bad_host' },
    { name: 'X-Auth-Request-Redirect disagreeing with the path', headers: { ...ingress('https://app.example.com/app/x'), 'x-auth-request-redirect': '/app/secrets/k' }, status: 403, message: 'bad_url' },
    { name: 'not http(s)', headers: ingress('ftp://app.example.com/app/x'), status: 403, message: 'bad_url' },
    { name: 'nginx header disagreeing', headers: { ...ingress('https://app.example.com/app/x'), 'x-original-uri': '/docs/x' }, status: 403, message: 'conflicting_front_end_headers' },
    { name: 'no X-Original-URL (no fallback to X-Original-URI): misconfigured, 500', headers: { 'x-original-uri': '/app/x', 'x-original-method': 'GET', host: 'app.example.com' }, status: 500, message: 'missing_original_request' },
    { name: 'no X-Auth-Request-Redirect: not what ingress-nginx sends, 500', headers: { 'x-original-url': 'https://app.example.com/app/x', 'x-original-method': 'GET' }, status: 500, message: 'missing_original_request' },
  ],
  traefik: [
    { name: 'allowed', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/app/x' }, status: 200 },
    { name: 'admin host denied for staff', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'admin.example.com', 'x-forwarded-uri': '/' }, status: 403 },
    { name: 'missing X-Forwarded-Uri', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com' }, status: 500, message: 'missing_original_request' },
    { name: 'bad host', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com#x', 'x-forwarded-uri': '/app/x' }, status: 403, message: 'bad_host' },
    { name: 'ingress header disagreeing', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/app/x', 'x-original-url': 'https://app.example.com/docs/x' }, status: 403, message: 'conflicting_front_end_headers' },
    { name: 'lower-case delete is DELETE', headers: { 'x-forwarded-method': 'delete', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/api/x' }, status: 200 },
  ],
  envoy: [
    { name: 'allowed', url: '/auth/ext/app/x?q=1', headers: { host: 'app.example.com' }, status: 200 },
    { name: 'method is the request own', url: '/auth/ext/api/x', method: 'DELETE', headers: { host: 'app.example.com' }, status: 200 },
    { name: 'denied by rule', url: '/auth/ext/app/secrets/x', headers: { host: 'app.example.com' }, status: 403 },
    { name: 'traversal in the appended path', url: '/auth/ext/app/../secrets/x', headers: { host: 'app.example.com' }, status: 403, message: 'dot_segment' },
    { name: 'nginx header disagreeing', url: '/auth/ext/app/x', headers: { host: 'app.example.com', 'x-original-uri': '/docs/x' }, status: 403, message: 'conflicting_front_end_headers' },
  ],
};

for (const [frontEnd, rows] of Object.entries(cases)) {
  t.test(`FRONT_END=${frontEnd}: reads its own headers and only those`, async (t) => {
    const db = await withDb(t);
    const { app } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], env: { FRONT_END: frontEnd } });
    const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
    // Over a real socket: the request target reaches the service unnormalised, as a proxy sends it.
    const running = await serve(app, { host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, shutdownDelaySeconds: 0, shutdownTimeoutSeconds: 5 });
    t.teardown(() => running.shutdown('test end'));
    for (const row of rows) {
      const res = await rawRequest(running.port, row.method ?? 'GET', row.url ?? '/auth', { ...row.headers, authorization: `Bearer ${staff.token}` });
      t.equal(res.status, row.status, `${row.name}: ${row.status}`);
      if (row.message) t.equal(res.headers['x-auth-request-reason'], row.message, `${row.name}: ${row.message}`);
      if (row.status === 200) t.equal(res.headers['x-auth-request-user'], 'alice@example.com', `${row.name}: identity header`);
    }
  });
}
