/**
 * Graceful shutdown of real service processes (their entry points, configured by environment only):
 * SIGTERM while load runs through them. Readiness flips first, the service keeps answering during
 * SHUTDOWN_DELAY_SECONDS, a request in flight when the listener closes still completes, a client that
 * retries on a second replica sees no failure, and the process exits 0 within the grace period.
 */
import t from 'tap';
import { connect as netConnect, type Socket } from 'node:net';
import { createTestDatabase } from '../helpers/db.js';
import { COMMON_TEST_ENV } from '../helpers/app.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/process.js';
import { writePolicy } from '../helpers/authz.js';
import { AUDIENCE, ISSUER, mintLive, newSigningKey } from '../helpers/tokens.js';
import { ACS_URL, IDP_ISSUER, SP_ENTITY } from '../helpers/token-service.js';
import { tokenServiceEnv } from '../helpers/env.js';
import { connect } from '../../services/shared/db/connect.js';
import { generateIdpKeys } from '../../services/dev-idp/keys.js';
import { signSamlResponse } from '../../services/dev-idp/sign.js';
import { ALICE, TINY_POLICY, sleep, until } from './fixtures/fixtures.js';

const DELAY_S = 2;
const TIMEOUT_S = 10;

function stopAtEnd(t: { teardown(fn: () => unknown): void }, svc: ServiceProcess): void {
  t.teardown(() => {
    if (svc.child.exitCode === null && svc.child.signalCode === null) svc.child.kill('SIGKILL');
  });
}

/** Whether a new TCP connection to the port is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

t.test('authz: SIGTERM under load — readiness first, no failed request for a client that retries on a second replica, exit within the grace period', async (t) => {
  const { url } = await createTestDatabase(t);
  const key = newSigningKey('ES256');
  const db = connect({ url, poolMax: 1 });
  t.teardown(() => db.destroy());
  const { token } = await mintLive(db.kysely, key, { subject: ALICE });
  const env = {
    ...COMMON_TEST_ENV,
    DATABASE_URL: url,
    POLICY_FILE: await writePolicy(TINY_POLICY),
    JWT_PUBLIC_KEYS: key.publicPem,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    ACCESS_LOG: 'false',
    SHUTDOWN_DELAY_SECONDS: String(DELAY_S),
    SHUTDOWN_TIMEOUT_SECONDS: String(TIMEOUT_S),
  };
  const entry = 'services/authz-service/main.ts';
  const [a, b] = await Promise.all([startServiceProcess(entry, env), startServiceProcess(entry, env)]);
  stopAtEnd(t, a);
  stopAtEnd(t, b);
  const headers = { 'x-original-uri': '/a/b', 'x-original-method': 'GET', host: 'app.example.com', authorization: `Bearer ${token}` };
  const auth = (port: number) => fetch(`http://127.0.0.1:${port}/auth`, { headers, signal: AbortSignal.timeout(5000) });

  let running = true;
  t.teardown(() => {
    running = false;
  });
  let sigtermAt = 0;
  let notReadyAt = 0;
  let firstRefusedAt = 0;
  const onA = { ok: 0, okAfterNotReady: 0, failed: new Map<string, number>() };
  let retriedOnB = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (running) {
      let res: Response | undefined;
      try {
        res = await auth(a.port);
        if (res.status === 200) {
          onA.ok++;
          if (notReadyAt && Date.now() > notReadyAt) onA.okAfterNotReady++;
          await res.arrayBuffer();
          continue;
        }
        await res.arrayBuffer();
        onA.failed.set(`status ${res.status}`, (onA.failed.get(`status ${res.status}`) ?? 0) + 1);
      } catch (err) {
        const code = String((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name);
        if (code === 'ECONNREFUSED' && !firstRefusedAt) firstRefusedAt = Date.now();
        onA.failed.set(code, (onA.failed.get(code) ?? 0) + 1);
      }
      // The client's retry on the other replica (what a load balancer's retry or the client does).
      retriedOnB++;
      try {
        const again = await auth(b.port);
        if (again.status !== 200) failures.push(`replica B answered ${again.status}`);
        await again.arrayBuffer();
      } catch (err) {
        failures.push(`replica B: ${(err as Error).message}`);
      }
    }
  };
  const readinessProbe = (async () => {
    while (running && !firstRefusedAt) {
      try {
        const r = await fetch(`http://127.0.0.1:${a.port}/readyz`);
        const body = (await r.json()) as { status: string };
        if (sigtermAt && r.status === 503 && body.status === 'shutting_down' && !notReadyAt) notReadyAt = Date.now();
      } catch {
        /* refused once the listener closed */
      }
      await sleep(20);
    }
  })();
  const workers = Array.from({ length: 4 }, worker);
  await sleep(800);
  t.ok(onA.ok > 0, `replica A served load before the signal (${onA.ok})`);

  sigtermAt = Date.now();
  a.child.kill('SIGTERM');
  const exit = await a.exited;
  const exitedAt = Date.now();
  await sleep(300); // load keeps running, now all on the retry path
  running = false;
  await Promise.all([...workers, readinessProbe]);

  t.equal(exit.code, 0, 'exit code 0');
  t.ok(exitedAt - sigtermAt < (DELAY_S + TIMEOUT_S) * 1000, `exited ${exitedAt - sigtermAt} ms after SIGTERM (delay ${DELAY_S} s, timeout ${TIMEOUT_S} s)`);
  t.ok(exitedAt - sigtermAt >= DELAY_S * 1000, 'not before the readiness delay was over');
  t.ok(notReadyAt > 0 && notReadyAt - sigtermAt < 500, `readiness failed ${notReadyAt - sigtermAt} ms after SIGTERM`);
  t.ok(!firstRefusedAt || firstRefusedAt - notReadyAt >= (DELAY_S - 0.5) * 1000, `new connections were refused only ${firstRefusedAt ? firstRefusedAt - notReadyAt : '—'} ms after readiness failed`);
  t.ok(onA.okAfterNotReady > 0, `replica A kept answering during the delay (${onA.okAfterNotReady} requests after readiness failed)`);
  t.same(failures, [], `zero failed requests for the retrying client (${retriedOnB} retried on B; A's failures: ${JSON.stringify(Object.fromEntries(onA.failed))})`);
  t.ok(a.logs.some((l) => l.includes('shutting down')) && a.logs.some((l) => l.includes('"stopped"')), 'logged the ordered shutdown');
  b.child.kill('SIGTERM');
  t.equal((await b.exited).code, 0, 'replica B stops cleanly too');
});

t.test('token-service: a redemption in flight when SIGTERM arrives completes (token and row) after the listener has closed', async (t) => {
  const { url } = await createTestDatabase(t);
  const idp = await generateIdpKeys();
  const env = {
    ...COMMON_TEST_ENV,
    ...(await tokenServiceEnv(idp)),
    DATABASE_URL: url,
    SHUTDOWN_DELAY_SECONDS: '1',
    SHUTDOWN_TIMEOUT_SECONDS: String(TIMEOUT_S),
    SWEEP_INTERVAL_SECONDS: '0',
  };
  const svc = await startServiceProcess('services/token-service/main.ts', env);
  stopAtEnd(t, svc);
  const { samlResponse } = await signSamlResponse({ idp, issuer: IDP_ISSUER, acsUrl: ACS_URL, audience: SP_ENTITY, nameId: ALICE, email: ALICE, groups: ['staff'] });
  const body = new URLSearchParams({ SAMLResponse: samlResponse }).toString();

  // The client has sent its headers and half of its body when the signal arrives.
  const socket: Socket = netConnect(svc.port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (answer += d));
  const ended = new Promise<void>((r) => socket.once('close', () => r()));
  socket.write(`POST /saml/acs HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\naccept: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`);
  socket.write(body.slice(0, body.length >> 1));
  await sleep(100);

  const sigtermAt = Date.now();
  svc.child.kill('SIGTERM');
  t.ok(await until(async () => !(await accepts(svc.port)), (1 + 5) * 1000, 50), 'the listener closes after the delay (new connections refused)');
  t.comment(`listener closed ${Date.now() - sigtermAt} ms after SIGTERM; now the rest of the body`);
  socket.write(body.slice(body.length >> 1)); // not end(): a half-closed client aborts its request in Node's server
  await ended;
  t.match(answer, /^HTTP\/1\.1 200 /, 'the in-flight redemption was answered 200');
  t.match(answer, /"access_token":"[^"]+"/, 'with a token');
  const exit = await svc.exited;
  t.equal(exit.code, 0, 'exit code 0');
  t.ok(Date.now() - sigtermAt < (1 + TIMEOUT_S) * 1000, `exited ${Date.now() - sigtermAt} ms after SIGTERM`);
  const db = connect({ url, poolMax: 1 });
  t.teardown(() => db.destroy());
  t.equal((await db.kysely.selectFrom('issued_tokens').select('jti').execute()).length, 1, 'and its row was written');
});
