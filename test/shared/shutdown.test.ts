import t from 'tap';
import { buildBaseApp } from '../../services/shared/app-base.js';
import { serve } from '../../services/shared/server.js';
import { createTestDatabase } from '../helpers/db.js';
import { LogCapture, COMMON_TEST_ENV } from '../helpers/app.js';
import { startServiceProcess, runToExit } from '../helpers/process.js';
import { authzServiceEnv, tokenServiceEnv } from '../helpers/env.js';

const envs = { 'token-service': await tokenServiceEnv(), 'authz-service': await authzServiceEnv() };
const serviceEnv = (name: keyof typeof envs) => envs[name];

t.test('shutdown: readiness fails first, in-flight requests finish, then the listener closes', async (t) => {
  const { url } = await createTestDatabase(t);
  const app = await buildBaseApp({ config: { databaseUrl: url, databasePoolMax: 2, logLevel: 'info' }, accessLog: 'silent', logStream: new LogCapture() });
  let release: () => void = () => {};
  const started = new Promise<void>((resolveStarted) => {
    app.get('/slow', async () => {
      resolveStarted();
      await new Promise<void>((r) => (release = r));
      return { done: true };
    });
  });
  const running = await serve(app, { host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, shutdownDelaySeconds: 1, shutdownTimeoutSeconds: 10 });
  const base = `http://127.0.0.1:${running.port}`;
  t.equal((await fetch(`${base}/readyz`)).status, 200);

  const inFlight = fetch(`${base}/slow`);
  await started;
  const stopped = running.shutdown('SIGTERM');
  const during = await fetch(`${base}/readyz`);
  t.equal(during.status, 503, 'readiness fails during the delay');
  t.equal(during.headers.get('connection'), 'close', 'answers end their keep-alive connection once shutdown began');
  t.same(await during.json(), { status: 'shutting_down', checks: { database: 'ok' } });
  release();
  const slow = await inFlight;
  t.equal(slow.status, 200, 'the in-flight request completed');
  t.same(await slow.json(), { done: true });
  await stopped;
  await t.rejects(fetch(`${base}/healthz`), 'the listener is closed');
});

for (const [name, entry] of [
  ['token-service', 'services/token-service/main.ts'],
  ['authz-service', 'services/authz-service/main.ts'],
] as const) {
  t.test(`${name}: a missing or malformed variable stops start-up with one line per problem`, async (t) => {
    const res = await runToExit(entry, { PORT: 'abc', LOG_LEVEL: 'loud' });
    t.equal(res.code, 1);
    t.match(res.stderr, `${name}: invalid configuration`);
    t.match(res.stderr, /DATABASE_URL: required/);
    t.match(res.stderr, /PORT: expected an integer between 0 and 65535, got "abc"/);
    t.match(res.stderr, /LOG_LEVEL: expected one of/);
  });

  t.test(`${name}: SIGTERM to the process stops it cleanly within the grace period`, async (t) => {
    const { url } = await createTestDatabase(t);
    const svc = await startServiceProcess(entry, { ...COMMON_TEST_ENV, ...serviceEnv(name), DATABASE_URL: url, SHUTDOWN_DELAY_SECONDS: '1' });
    const ready = await fetch(`http://127.0.0.1:${svc.port}/readyz`);
    t.equal(ready.status, 200);
    const t0 = Date.now();
    svc.child.kill('SIGTERM');
    const exit = await svc.exited;
    t.equal(exit.code, 0, 'exit code 0');
    t.ok(Date.now() - t0 < 10_000, `stopped in ${Date.now() - t0} ms`);
    t.ok(svc.logs.some((l) => l.includes('shutting down')), 'logged the shutdown');
  });
}

