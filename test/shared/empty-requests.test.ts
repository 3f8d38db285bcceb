// Requests without a body as the services' own server meets them (optimizeEmptyRequests, app-base.ts):
// Fastify's inject skips that server, so these go over a socket.
import t from 'tap';
import { connect } from 'node:net';
import { withDb } from '../helpers/db.js';
import { buildTokenService } from '../helpers/token-service.js';

/** Writes `raw` on one connection; resolves with the answers' status lines and bodies once `count` have come. */
function exchange(port: number, raw: string, count: number): Promise<{ statuses: number[]; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = () => {
      socket.destroy();
      resolve({ statuses: [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])), text });
    };
    const timer = setTimeout(done, 5000); // what came within 5 s: a waiting server shows as a missing answer
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if ((text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= count) setTimeout(() => (clearTimeout(timer), done()), 50);
    });
    socket.on('error', reject);
    socket.write(raw);
  });
}

t.test('a POST with a Content-Type and no body gets its 400 at once, and the connection goes on', async (t) => {
  const db = await withDb(t);
  const svc = await buildTokenService(t, { databaseUrl: db.url });
  await svc.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (svc.app.server.address() as { port: number }).port;
  const post = (type: string) => `POST /saml/acs HTTP/1.1\r\nHost: auth.test.example\r\nContent-Type: ${type}\r\n\r\n`;
  const started = Date.now();
  const { statuses, text } = await exchange(port, `${post('application/x-www-form-urlencoded')}${post('application/json')}GET /healthz HTTP/1.1\r\nHost: auth.test.example\r\n\r\n`, 3);
  t.same(statuses, [400, 400, 200], 'the form and the JSON POST refused as bad requests, then the next request on the connection answered');
  t.match(text, /"error":"bad_request"/, 'the coded refusal');
  t.ok(Date.now() - started < 4000, 'answered, not left waiting for a body');
});
