/** End-to-end scenarios of the network: ALLOWED_CIDRS for redeeming a SAML response, upstream and auth keepalive. */
import t from 'tap';
import { postAcs, REDEEM_NETWORK } from './fixture.js';
import type { ScenarioKit } from './scenario-kit.js';
import { openedBetween, socketsOnPort } from './sockets.js';

export function networkScenarios(kit: ScenarioKit): void {
  const { config, bearer } = kit;

  t.test('a request from outside ALLOWED_CIDRS cannot redeem a SAML response', async (t) => {
    const { stack } = kit;
    const saml = await stack.sign();
    const outside = await postAcs(stack.request, saml);
    t.equal(outside.status, 403, 'from 127.0.0.1 (outside 127.0.0.2/32): 403');
    t.same(outside.json(), { error: 'source_not_allowed', message: 'this network may not redeem SAML responses' }, 'source_not_allowed');
    const spoofed = await postAcs(stack.request, saml, { headers: { 'x-real-ip': REDEEM_NETWORK, 'x-forwarded-for': REDEEM_NETWORK } });
    t.equal(spoofed.status, 403, 'X-Real-IP/X-Forwarded-For sent by the client do not help: NGINX overwrites them');
    const browser = await postAcs(stack.request, saml, { accept: 'text/html' });
    t.equal(browser.status, 403, 'nor does a browser form post');
    t.equal(browser.header('set-cookie'), undefined, 'and no cookie is set');
    const inside = await postAcs(stack.request, saml, { localAddress: REDEEM_NETWORK });
    t.equal(inside.status, 200, 'the same response from 127.0.0.2 is redeemed: it was valid and unspent, only the network was refused');
    t.match(inside.json(), { token_type: 'Bearer' });
  });

  t.test('upstream keepalive: NGINX reuses its connections to the application', async (t) => {
    const { stack } = kit;
    const token = await stack.signIn();
    stack.echo.clear();
    const before = await socketsOnPort(stack.authz.port);
    for (let i = 0; i < 10; i++) t.equal((await stack.request({ target: `/app/k${i}`, headers: bearer(token) })).status, 200);
    const after = await socketsOnPort(stack.authz.port);
    const ports = new Set(stack.echo.records.map((r) => r.remotePort));
    t.equal(stack.echo.records.length, 10, 'ten requests served');
    t.ok(ports.size <= 2, `the application: served on ${ports.size} connection(s), not ten`);
    if (before === null || after === null) return t.comment('no /proc/net/tcp: auth connections not counted');
    const opened = openedBetween(before, after, stack.authz.port);
    if (config === 'auth-request') {
      t.ok(opened <= 2, `the authz-service: ${opened} new connection(s) for ten allowed requests (keepalive; a 200 has no body)`);
    } else {
      // ingress-nginx without the auth-keepalive annotation proxies to the auth-url directly: one
      // connection per request. Measured so that the keepalive check above is known to be able to fail.
      t.ok(opened >= 10, `the authz-service: ${opened} new connections for ten requests (ingress-nginx default: no auth keepalive)`);
    }
  });
}
