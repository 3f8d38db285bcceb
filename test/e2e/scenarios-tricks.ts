/** End-to-end scenarios of tricks: path, header, Host and method tricks aimed at forbidden routes, host rules and the port, the host the decision is made for. */
import t, { type Test } from 'tap';
import { ADMIN_HOST, ALICE, HOST } from './fixture.js';
import type { ScenarioKit } from './scenario-kit.js';
import { fill, HOST_TRICKS, METHOD_TRICKS, TRICKS, type RequestTrick } from './tricks.js';

export function trickScenarios(kit: ScenarioKit): void {
  const { config, bearer, refused, reached } = kit;


  t.test('path and header tricks aimed at forbidden routes never reach them', async (t) => {
    const { stack } = kit;
    const token = await stack.signIn();
    const statuses = new Map<number, number>();
    for (const [target, why, headers] of TRICKS) {
      const shown = Buffer.isBuffer(target) ? target.toString('utf8') : target;
      const res = await refused(t, { target, headers: { ...bearer(token), ...headers } }, `${why}: ${shown}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    t.comment(`${config}: ${TRICKS.length} tricks, NGINX answered ${[...statuses].map(([s, n]) => `${s}×${n}`).join(', ')}`);
    noServerErrors(t, statuses, 'path and header tricks');

    // The same record shows what does reach the application: the controls prove the check can fail.
    for (const [target, why] of [['/app/x', 'plain'], ['//app//x', 'merged slashes'], ['/app/%78', 'an encoded letter']] as const) {
      const { record } = await reached(t, { target, headers: bearer(token) }, `control, ${why}: ${target}`);
      t.equal(record.url, target, `control ${target}: the application sees the raw request-target`);
      t.equal(record.user, ALICE.nameId, `control ${target}: with the identity`);
    }
  });

  /** Sends each trick (never to reach the application) and counts NGINX's statuses. */
  const sendTricks = async (tt: Test, tricks: readonly RequestTrick[], token: string) => {
    const { stack } = kit;
    const statuses = new Map<number, number>();
    for (const trick of tricks.filter((x) => x.only === undefined || x.only === config).map((x) => fill(x, `${HOST}:${stack.port}`, stack.port))) {
      const headers = { ...bearer(token), ...trick.headers };
      const shown = `${trick.method ?? 'GET'} ${trick.target}${trick.headers ? ` ${JSON.stringify(trick.headers)}` : ''}`;
      const request = { method: trick.method ?? 'GET', target: trick.target, headers, ...(trick.noHost ? { httpVersion: '1.0' as const, noHost: true } : {}) };
      const res = await refused(tt, request, `${trick.why}: ${shown}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    tt.comment(`${config}: ${[...statuses.values()].reduce((a, b) => a + b, 0)} tricks, NGINX answered ${[...statuses].map(([s, n]) => `${s}×${n}`).join(', ')}`);
    return statuses;
  };
  /** Attack traffic must never fire an operator's 5xx alerts: /auth answers 401 or 403, never 400. */
  const noServerErrors = (tt: Test, statuses: Map<number, number>, what: string) => {
    const errors = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    tt.equal(errors, 0, `${what}: no response ≥ 500 at the client`);
  };

  t.test('Host-header tricks never move the checked path or host away from what NGINX serves', async (t) => {
    const { stack } = kit;
    const token = await stack.signIn();
    // Controls: `/` is public, so a Host that moved the path into the query would be admitted.
    const root = await reached(t, { target: '/' }, 'control: GET / (public)');
    t.equal(root.record.url, '/', 'control: the application serves /');
    await refused(t, { target: '/admin/panel', headers: bearer(token) }, 'control: GET /admin/panel as alice');
    const statuses = await sendTricks(t, HOST_TRICKS, token);
    noServerErrors(t, statuses, 'Host-header tricks');
  });

  t.test('method aliases and override headers never pass a method-scoped deny', async (t) => {
    const { stack } = kit;
    const token = await stack.signIn();
    // Controls: alice may POST to /app/x and HEAD /app/x, so each trick below is stopped by the deny alone.
    for (const method of ['POST', 'HEAD', 'PUT']) {
      const { record } = await reached(t, { method, target: '/app/x', headers: bearer(token) }, `control: ${method} /app/x`);
      t.equal(record.method, method, `control: the application ran ${method}`);
    }
    const statuses = await sendTricks(t, METHOD_TRICKS, token);
    noServerErrors(t, statuses, 'method tricks');
    // The override headers reach /auth: auth_request forwards the client's headers to the subrequest.
    const res = await refused(t, { method: 'POST', target: '/app/x', headers: { ...bearer(token), 'x-http-method-override': 'PUT' } }, 'POST /app/x with an override naming PUT');
    t.equal(res.status, 403, 'an override naming an allowed method is refused too (403 method_override)');
  });

  t.test('host rules ignore the port: the port in the Host header is the client\'s', async (t) => {
    const { stack } = kit;
    const token = await stack.signIn();
    for (const host of [`${ADMIN_HOST}:1`, `${ADMIN_HOST}:65535`, `${ADMIN_HOST}:${stack.port}`, ADMIN_HOST.toUpperCase(), `${ADMIN_HOST}.`]) {
      const res = await refused(t, { target: '/app/x', headers: { ...bearer(token), host } }, `Host: ${host}`);
      t.equal(res.status, 403, `Host: ${host}: 403`);
    }
    // Any port a client writes reaches the same server: a port-scoped host rule would be the client's choice
    // (ingress-nginx passes $http_host on) or never match (plain NGINX passes $host, without a port). Hence
    // the authz-service refuses port-scoped host patterns (lint error host_with_port).
    const { record } = await reached(t, { target: '/app/x', headers: { ...bearer(token), host: `${HOST}:1` } }, 'Host: 127.0.0.1:1 (a port nothing listens on)');
    t.equal(record.host, config === 'ingress-nginx' ? `${HOST}:1` : HOST, `the application sees Host ${record.host}`);
  });

  t.test('the host the decision is made for is the host the application sees', async (t) => {
    const { stack } = kit;
    const token = await stack.signIn();
    const authority = `${HOST}:${stack.port}`;
    // ADMIN_HOST is denied to alice by a host rule; /app/x is allowed to her on any other host.
    const res = await refused(t, { target: '/app/x', headers: { ...bearer(token), host: ADMIN_HOST } }, `Host: ${ADMIN_HOST}`);
    t.equal(res.status, 403, `Host: ${ADMIN_HOST}: 403 (host rule)`);
    const mixed: Array<[string, Record<string, string>, string]> = [
      [`http://${ADMIN_HOST}/app/x`, { host: authority }, `request-line host ${ADMIN_HOST}, Host header ${authority}`],
      [`http://${authority}/app/x`, { host: ADMIN_HOST }, `request-line host ${authority}, Host header ${ADMIN_HOST}`],
    ];
    for (const [target, headers, what] of mixed) {
      stack.echo.clear();
      const r = await stack.request({ target, headers: { ...bearer(token), ...headers } });
      const admitted = stack.echo.records.filter((rec) => (rec.host ?? '').toLowerCase().startsWith(ADMIN_HOST));
      t.same(admitted, [], `${what}: the application never serves ${ADMIN_HOST} to alice (NGINX answered ${r.status})`);
    }
  });
}
