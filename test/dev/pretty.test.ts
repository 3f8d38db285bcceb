import t from 'tap';
import { prettyLine } from '../../services/dev/pretty.js';

/** `npm start` on a terminal: one readable line per pino JSON line; anything else untouched. */
const time = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

t.test('pino lines become time, level, service, message and the other fields', async (t) => {
  const cases: [string, string, string][] = [
    [
      'info with fields',
      JSON.stringify({ level: 30, time, pid: 7, hostname: 'h', reqId: 'req-1', msg: 'request completed', statusCode: 200, responseTime: 1.5 }),
      '03:04:05.678 INFO  [token-service] request completed reqId=req-1 statusCode=200 responseTime=1.5',
    ],
    [
      'warn, a string with spaces and an object',
      JSON.stringify({ level: 40, time, msg: 'saml rejected', reason: 'bad signature here', audit: { event: 'x' } }),
      '03:04:05.678 WARN  [token-service] saml rejected reason="bad signature here" audit={"event":"x"}',
    ],
    ['no message', JSON.stringify({ level: 50, time, err: 'boom' }), '03:04:05.678 ERROR [token-service] err=boom'],
    ['not JSON', 'Server listening at http://127.0.0.1:8080', '[token-service] Server listening at http://127.0.0.1:8080'],
    ['JSON but not pino', '{"hello":"world"}', '[token-service] {"hello":"world"}'],
  ];
  for (const [name, line, expected] of cases) t.equal(prettyLine('token-service', line, false), expected, name);
});

t.test('levels are coloured on a terminal', async (t) => {
  t.equal(prettyLine('authz-service', JSON.stringify({ level: 50, time, msg: 'x', k: 1 })), '03:04:05.678 \x1b[31mERROR\x1b[0m [authz-service] x \x1b[2mk=1\x1b[0m');
});
