// The /auth front door (routes/front-door.ts) against the Fastify route: same answers, what it leaves to the router, its own 500.
import t from 'tap';
import inject from 'light-my-request';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withDb } from '../helpers/db.js';
import { buildAuthz } from '../helpers/authz.js';
import { mint, mintLive, newSigningKey } from '../helpers/tokens.js';
import { authFrontDoor } from '../../services/authz-service/routes/front-door.js';
import type { App } from '../../services/shared/app-base.js';
import { LogCapture } from '../helpers/app.js';
import { pino } from 'pino';

const key = newSigningKey('ES256');
const stranger = newSigningKey('ES256');
const nginx = (uri: string, method = 'GET', host = 'app.example.com') => ({ 'x-original-uri': uri, 'x-original-method': method, host });

/** Records whether the front door took each request the server's listener gets. */
function watchDoor(app: App): boolean[] {
  const taken: boolean[] = [];
  const door = app.authz.frontDoor;
  const handle = door.handle!;
  door.handle = (req, res) => {
    const took = handle(req, res);
    taken.push(took);
    return took;
  };
  return taken;
}

/** What a client can see of an answer, less the Date header. */
function seen(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  const { date: _date, ...headers } = res.headers;
  return { status: res.statusCode, headers, body: res.body };
}

t.test('every decision the front door takes is the one the Fastify route gives', async (t) => {
  const db = await withDb(t);
  const { app, viaRouter } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], env: { REFUSAL_HEADERS: 'reason,rule' } });
  const taken = watchDoor(app);
  const staff = await mintLive(db.kysely, key, { subject: 'alice@example.com', groups: ['staff'] });
  const contractor = await mintLive(db.kysely, key, { subject: 'bob@example.com', email: 'bob@example.com', groups: ['staff', 'contractors'] });
  const tokens = {
    none: undefined,
    staff: staff.token,
    contractor: contractor.token,
    'no row (liveness asks Postgres)': mint(key, { groups: ['staff'] }).token,
    expired: mint(key, { exp: Math.floor(Date.now() / 1000) - 60 }).token,
    'another key': mint(stranger, { groups: ['staff'] }).token,
    garbage: 'not.a.jwt',
  };
  const requests: Record<string, Record<string, string>> = {
    'public docs': nginx('/docs/intro'),
    'staff app': nginx('/app/home?x=1'),
    'HEAD on the app': nginx('/app/home', 'HEAD'),
    'admin host': nginx('/', 'GET', 'admin.example.com'),
    'DELETE on the api': nginx('/api/x', 'DELETE'),
    'explicit deny': nginx('/app/secrets/k'),
    'encoded slash': nginx('/app/..%2fsecrets/k'),
    'dot segments': nginx('/app/x/../secrets/k'),
    'odd host': nginx('/docs/x', 'GET', 'evil.com\\@app.example.com'),
    'method override': { ...nginx('/api/x', 'POST'), 'x-http-method-override': 'DELETE' },
    'conflicting traefik header': { ...nginx('/app/home'), 'x-forwarded-uri': '/docs/x' },
    'no original request': { host: 'app.example.com' },
  };
  let n = 0;
  for (const [tokenName, token] of Object.entries(tokens)) {
    for (const [requestName, original] of Object.entries(requests)) {
      const headers = { ...original, ...(token === undefined ? {} : n % 3 === 2 ? { cookie: `__Host-saml_authz=${token}` } : { authorization: `Bearer ${token}` }) };
      const opts = { method: 'GET' as const, url: n % 4 === 1 ? '/auth?from=nginx' : '/auth', headers };
      // Alternate which side sees a token first (the first sight of an unknown row waits for Postgres).
      const [door, router] = n++ % 2 === 0 ? [await app.inject(opts), await viaRouter(opts)] : [...[await viaRouter(opts), await app.inject(opts)].reverse()];
      t.same(seen(door!), seen(router!), `${requestName}, token ${tokenName}: same answer`);
    }
  }
  t.ok(taken.length === n && taken.every(Boolean), `the front door took all ${n} requests the server got (${taken.filter(Boolean).length})`);
});

t.test('what the front door leaves to Fastify: other paths and URL forms, a body, shutdown', async (t) => {
  const db = await withDb(t);
  const { app, viaRouter } = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const taken = watchDoor(app);
  const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
  const headers = { ...nginx('/app/home'), authorization: `Bearer ${staff.token}` };
  for (const url of ['/auth/', '/auth;x', '/AUTH', '//auth', '/authz', '/healthz']) {
    taken.length = 0;
    const res = await app.inject({ method: 'GET', url, headers });
    t.same(taken, [false], `${url}: left to the router`);
    t.same(seen(res), seen(await viaRouter({ method: 'GET', url, headers })), `${url}: the router's answer`);
  }
  for (const [name, extra] of [['a body', { 'content-length': '2' }], ['a chunked body', { 'transfer-encoding': 'chunked' }]] as const) {
    taken.length = 0;
    const res = await app.inject({ method: 'POST', url: '/auth', headers: { ...headers, ...extra }, payload: 'ab' });
    t.same(taken, [false], `${name}: left to the router`);
    t.equal(res.statusCode, 200, `${name}: decided by the /auth route`);
  }
  taken.length = 0;
  t.equal((await app.inject({ method: 'GET', url: '/auth', headers: { ...headers, 'content-length': '0' } })).statusCode, 200, 'Content-Length: 0 is no body');
  t.same(taken, [true], 'and is the front door\'s');
  taken.length = 0;
  t.equal((await app.inject({ method: 'GET', url: '/auth', headers })).statusCode, 200, 'served before shutdown');
  t.same(taken, [true], 'by the front door');
  app.readiness.shuttingDown = true;
  taken.length = 0;
  const closing = await app.inject({ method: 'GET', url: '/auth', headers });
  t.same(taken, [false], 'once shutdown has begun, Fastify answers');
  t.equal(closing.headers.connection, 'close', 'and ends the keep-alive connection');
  t.equal(closing.statusCode, 200, 'still deciding while the endpoints update');
});

t.test('the front door writes the access line and the latency histogram as the router does', async (t) => {
  const db = await withDb(t);
  const { app, logs } = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
  const res = await app.inject({ method: 'GET', url: '/auth?q=secret', headers: { ...nginx('/app/home'), authorization: `Bearer ${staff.token}`, 'x-request-id': 'nginx-req-42' }, remoteAddress: '10.1.2.3' });
  t.equal(res.statusCode, 200);
  const [line] = logs.find((l) => l.msg === 'request' && l.request_id === 'nginx-req-42');
  t.match(line, { level: 30, method: 'GET', route: '/auth', path: '/auth', status: 200, remote: '10.1.2.3' }, 'one access line, no query string');
  t.type(line?.duration_ms, 'number');
  t.notOk(JSON.stringify(logs.lines).includes(staff.token), 'no token in any log line');
  const metrics = await app.metrics.getSingleMetricAsString('http_request_duration_seconds');
  t.match(metrics, /http_request_duration_seconds_count\{route="\/auth",method="GET",status_class="2xx"\} 1\b/, 'observed once under the route template');
});

t.test('allowed decisions get one access line in ACCESS_LOG_ALLOWED_SAMPLE (default 100); refusals every one', async (t) => {
  const db = await withDb(t);
  const staff = await mintLive(db.kysely, key, { groups: ['staff'] });
  const decisions = async (app: App, logs: LogCapture, allowed: number) => {
    for (let i = 0; i < allowed; i++) {
      t.equal((await app.inject({ method: 'GET', url: '/auth', headers: { ...nginx('/app/home'), authorization: `Bearer ${staff.token}` } })).statusCode, 200);
      if (i % 10 === 0) t.equal((await app.inject({ method: 'GET', url: '/auth', headers: nginx('/app/home') })).statusCode, 401);
    }
    const lines = logs.find((l) => l.msg === 'request' && l.route === '/auth');
    return { allowed: lines.filter((l) => l.status === 200).length, refused: lines.filter((l) => l.status === 401).length };
  };
  const byDefault = await buildAuthz(t, { databaseUrl: db.url, keys: [key] });
  t.same(await decisions(byDefault.app, byDefault.logs, 250), { allowed: 3, refused: 25 }, 'default: the 1st, 101st and 201st allowed answer; all 25 refusals');
  const sampled = await buildAuthz(t, { databaseUrl: db.url, keys: [key], env: { ACCESS_LOG_ALLOWED_SAMPLE: '7' } });
  t.same(await decisions(sampled.app, sampled.logs, 30), { allowed: 5, refused: 3 }, '7: the 1st, 8th, 15th, 22nd and 29th');
  const every = await buildAuthz(t, { databaseUrl: db.url, keys: [key], env: { ACCESS_LOG_ALLOWED_SAMPLE: '1' } });
  t.same(await decisions(every.app, every.logs, 30), { allowed: 30, refused: 3 }, '1: every answer');
  t.match(await byDefault.app.metrics.getSingleMetricAsString('http_request_duration_seconds'), /http_request_duration_seconds_count\{route="\/auth",method="GET",status_class="2xx"\} 250\b/, 'the histogram counts every answer');
});

t.test("a programming error in the decision is a 500 with Fastify's body, logged, never an allow", async (t) => {
  const logs = new LogCapture();
  const observed: number[] = [];
  const fail = (decide: () => number | Promise<number>) =>
    authFrontDoor({ decide, requestId: () => 'req-1', observe: (_r, _m, status) => void observed.push(status), accessLine: null, log: pino(logs), closing: () => false });
  const thrown = fail(() => {
    throw new TypeError('boom');
  });
  const rejected = fail(() => Promise.reject(new Error('late boom')));
  for (const [name, door] of [['thrown', thrown], ['rejected', rejected]] as const) {
    const res = await inject((req: IncomingMessage, res: ServerResponse) => void door(req, res), { method: 'GET', url: '/auth', headers: nginx('/app/home') });
    t.equal(res.statusCode, 500, `${name}: 500`);
    t.same(res.json(), { error: 'internal_error', message: 'internal error' }, `${name}: the error handler's body, no message`);
    t.notOk(res.headers['x-auth-request-user'], `${name}: no identity headers`);
  }
  t.same(observed, [500, 500], 'both observed as 5xx');
  t.same(logs.find((l) => l.msg === 'request failed').map((l) => l.request_id), ['req-1', 'req-1'], 'each logged with its request id');
});
