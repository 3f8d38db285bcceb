import t from 'tap';
import { ownPostgres } from '../helpers/own-postgres.js';
import { migrateToLatest } from '../../services/shared/db/migrator.js';
import { connect } from '../../services/shared/db/connect.js';
import { buildBaseApp } from '../../services/shared/app-base.js';
import { serve } from '../../services/shared/server.js';
import { createTestDatabase } from '../helpers/db.js';
import { LogCapture } from '../helpers/app.js';

const base = (databaseUrl: string, logStream = new LogCapture()) =>
  buildBaseApp({ config: { databaseUrl, databasePoolMax: 2, logLevel: 'info' }, accessLog: 'info', logStream });

t.test('liveness answers without the database; readiness needs applied migrations', async (t) => {
  const { url } = await createTestDatabase(t, { migrate: false });
  const app = await base(url);
  t.teardown(() => app.close());
  const live = await app.inject('/healthz');
  t.equal(live.statusCode, 200);
  t.same(live.json(), { status: 'ok', checks: {} });
  const notMigrated = await app.inject('/readyz');
  t.equal(notMigrated.statusCode, 503);
  t.same(notMigrated.json(), { status: 'unavailable', checks: { database: 'failed' } });

  const db = connect({ url, poolMax: 1 });
  await migrateToLatest(db.kysely);
  await db.destroy();
  const ready = await app.inject('/readyz');
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ok', checks: { database: 'ok' } });
});

t.test('readiness fails while Postgres is stopped and recovers when it is back, liveness never fails', async (t) => {
  const pg = await ownPostgres(t);
  const app = await base(pg.url);
  t.teardown(() => app.close());
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready with Postgres up');

  await pg.stop();
  const down = await app.inject('/readyz');
  t.equal(down.statusCode, 503, 'not ready with Postgres down');
  t.same(down.json(), { status: 'unavailable', checks: { database: 'failed' } });
  t.equal((await app.inject('/healthz')).statusCode, 200, 'still live');

  await pg.start();
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready again without a restart');
});

t.test('metrics are served on their own port and never on the main port', async (t) => {
  const { url } = await createTestDatabase(t);
  const app = await base(url);
  const running = await serve(app, { host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, shutdownDelaySeconds: 0, shutdownTimeoutSeconds: 5 });
  t.teardown(() => running.shutdown('test end'));
  await fetch(`http://127.0.0.1:${running.port}/healthz`);
  const onMain = await fetch(`http://127.0.0.1:${running.port}/metrics`);
  t.equal(onMain.status, 404, 'no /metrics on the main port');
  const metrics = await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`);
  t.equal(metrics.status, 200);
  t.match(metrics.headers.get('content-type'), /^text\/plain/);
  const body = await metrics.text();
  t.match(body, /http_request_duration_seconds_count\{route="\/healthz",method="GET",status_class="2xx"\} 1/);
  t.match(body, /process_cpu_seconds_total/);
  t.match(body, /db_pool_connections\{state="waiting"\} 0/);
  t.equal((await fetch(`http://127.0.0.1:${running.metricsPort}/other`)).status, 404);
});

t.test('a database error message never reaches the client', async (t) => {
  const { url } = await createTestDatabase(t);
  const logs = new LogCapture();
  const app = await base(url, logs);
  app.get('/boom', async () => {
    await app.db.pool.query('select * from no_such_table');
    return 'unreachable';
  });
  t.teardown(() => app.close());
  const res = await app.inject('/boom');
  t.equal(res.statusCode, 500);
  t.same(res.json(), { error: 'internal_error', message: 'internal error' });
  t.ok(logs.find((l) => JSON.stringify(l).includes('no_such_table')).length > 0, 'the reason is in the log');
});
