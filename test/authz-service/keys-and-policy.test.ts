import t from 'tap';
import { writeFile, rename } from 'node:fs/promises';
import { withDb } from '../helpers/db.js';
import { buildAuthz, TEST_POLICY } from '../helpers/authz.js';
import { buildTokenService, postAcs } from '../helpers/token-service.js';
import { mintLive, newSigningKey } from '../helpers/tokens.js';
import { serve } from '../../services/shared/server.js';
import type { App } from '../../services/shared/app-base.js';

const ask = (app: App, token: string, uri = '/app/x', host = 'app.example.com') =>
  app.inject({ method: 'GET', url: '/auth', headers: { 'x-original-uri': uri, 'x-original-method': 'GET', host, authorization: `Bearer ${token}` } });

t.test('a token issued through /saml/acs is accepted by the authz-service via the JWKS URL', async (t) => {
  const db = await withDb(t);
  const tokens = await buildTokenService(t, { databaseUrl: db.url });
  const running = await serve(tokens.app, { host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, shutdownDelaySeconds: 0, shutdownTimeoutSeconds: 5 });
  t.teardown(() => running.shutdown('test end'));
  const { app } = await buildAuthz(t, {
    databaseUrl: db.url,
    keys: [],
    env: { JWT_PUBLIC_KEYS: '', JWKS_URL: `http://127.0.0.1:${running.port}/.well-known/jwks.json`, JWKS_MIN_REFRESH_SECONDS: '1' },
  });
  const issued = await postAcs(tokens.app, (await tokens.sign({ groups: ['staff', 'admins'] })).samlResponse);
  t.equal(issued.statusCode, 200);
  const token = issued.json().access_token as string;
  const res = await ask(app, token);
  t.equal(res.statusCode, 200);
  t.equal(res.headers['x-auth-request-user'], 'alice@example.com');
  t.equal(res.headers['x-auth-request-groups'], 'staff,admins');
  t.equal((await ask(app, token, '/', 'admin.example.com')).statusCode, 200, 'admins reach the admin console');

  const logout = await tokens.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${token}` } });
  t.equal(logout.statusCode, 204);
  const deadline = Date.now() + 1000;
  let status = 200;
  while (status === 200 && Date.now() < deadline) {
    status = (await ask(app, token)).statusCode;
    if (status === 200) await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(status, 401, 'refused within a second of logout');
});

t.test('JWKS: an unknown kid triggers at most one refresh per interval', async (t) => {
  const db = await withDb(t);
  const key = newSigningKey();
  let fetches = 0;
  let published = [key];
  const { createServer } = await import('node:http');
  const jwks = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => jwks.close(() => r())));
  const port = (jwks.address() as { port: number }).port;
  const { app } = await buildAuthz(t, {
    databaseUrl: db.url,
    keys: [],
    env: { JWT_PUBLIC_KEYS: '', JWKS_URL: `http://127.0.0.1:${port}/jwks`, JWKS_MIN_REFRESH_SECONDS: '2', JWKS_REFRESH_SECONDS: '3600' },
  });
  t.equal(fetches, 1, 'fetched once at start');
  const next = newSigningKey();
  const fresh = await mintLive(db.kysely, next);
  // Within the minimum interval: the unknown kid is refused without another fetch, however many times.
  for (let i = 0; i < 20; i++) t.equal((await ask(app, fresh.token)).headers['x-auth-request-reason'], 'unknown_key');
  t.equal(fetches, 1, 'no refresh inside the interval');
  published = [key, next];
  await new Promise((r) => setTimeout(r, 2100));
  const results = await Promise.all(Array.from({ length: 20 }, () => ask(app, fresh.token)));
  t.same(new Set(results.map((r) => r.statusCode)), new Set([200]), 'after the interval one refresh picks up the new key');
  t.equal(fetches, 2, 'twenty concurrent requests caused one fetch');
});

t.test('policy reload: a valid change applies, an invalid one keeps the last good policy', async (t) => {
  const db = await withDb(t);
  const key = newSigningKey();
  const { app, logs, policyFile } = await buildAuthz(t, { databaseUrl: db.url, keys: [key], env: { POLICY_RELOAD_SECONDS: '0' } });
  const tok = await mintLive(db.kysely, key, { groups: ['staff'] });
  t.equal((await ask(app, tok.token, '/app/x')).statusCode, 200);

  const replace = async (text: string) => {
    await writeFile(`${policyFile}.new`, text);
    await rename(`${policyFile}.new`, policyFile); // an atomic swap, as a ConfigMap update is
    return app.authz.policy.reloadIfChanged();
  };
  t.equal(await replace(TEST_POLICY.replace('paths: ["/app/**", "/api/**"]', 'paths: ["/api/**"]')), true, 'valid change applied');
  t.equal((await ask(app, tok.token, '/app/x')).statusCode, 403, 'the new policy is in force');
  t.equal(await replace('rules:\n  - id: broken\n    effect: allow\n'), false, 'invalid change refused');
  t.equal((await ask(app, tok.token, '/app/x')).statusCode, 403, 'the last good policy stays');
  t.equal((await ask(app, tok.token, '/api/x')).statusCode, 200);
  const warning = logs.find((l) => l.msg === 'policy reload refused; keeping the last good policy');
  t.equal(warning.length, 1);
  t.same(warning[0]!.problems, ['rule "broken" (#1): paths: required, a non-empty list'], 'the log names the rule and why');
  const metrics = await app.metrics.metrics();
  t.match(metrics, /authz_policy_reloads_total\{result="ok"\} 2/);
  t.match(metrics, /authz_policy_reloads_total\{result="failed"\} 1/);
  t.match(metrics, /authz_policy_rules 5/);
});

t.test('the service refuses to start on an invalid policy and names the rule', async (t) => {
  const db = await withDb(t);
  await t.rejects(
    buildAuthz(t, { databaseUrl: db.url, keys: [newSigningKey()], policy: 'rules:\n  - id: a\n    effect: allow\n    public: true\n    groups: [x]\n    paths: ["/x"]\n' }),
    { code: 'POLICY_INVALID', message: /rule "a" \(#1\)/ },
  );
});
