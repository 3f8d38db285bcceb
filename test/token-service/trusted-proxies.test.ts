import t from 'tap';
import { ConfigError } from '../../services/shared/env.js';
import { loadTokenServiceConfig } from '../../services/token-service/config.js';
import { tokenServiceEnv } from '../helpers/env.js';

/** Issue 12: TRUSTED_PROXIES=0.0.0.0/0 would let every client choose its address (ALLOWED_CIDRS, the rate limit). */
t.test('the token-service refuses a TRUSTED_PROXIES range wider than /8 unless TRUSTED_PROXIES_ALLOW_WIDE=true', async (t) => {
  const base = { ...(await tokenServiceEnv()), DATABASE_URL: 'postgres://u@localhost/db' };
  const wider = /TRUSTED_PROXIES: .* is wider than \/8/;
  const refused: Array<[string, string, RegExp]> = [
    ['0.0.0.0/0', '10.0.0.0/8,0.0.0.0/0', wider],
    ['::/0', '::/0', wider],
    ['1.0.0.0/7', '1.0.0.0/7', wider],
    ['::ffff:0.0.0.0/96 (every IPv4-mapped address)', '::ffff:0.0.0.0/96', /TRUSTED_PROXIES: .*invalid prefix length/],
  ];
  for (const [name, value, problem] of refused) {
    let error: unknown;
    try {
      loadTokenServiceConfig({ ...base, TRUSTED_PROXIES: value });
    } catch (err) {
      error = err;
    }
    t.ok(error instanceof ConfigError, `${name}: refused at start`);
    t.match(String((error as Error | undefined)?.message), problem, `${name}: the message names the variable`);
  }
  for (const value of ['10.0.0.0/8', '10.244.0.0/16', '127.0.0.1', 'fd00::/8']) {
    t.same(loadTokenServiceConfig({ ...base, TRUSTED_PROXIES: value }).trustedProxiesWide, [], `${value}: accepted`);
  }
  const opted = loadTokenServiceConfig({ ...base, TRUSTED_PROXIES: '0.0.0.0/0', TRUSTED_PROXIES_ALLOW_WIDE: 'true' });
  t.same(opted.trustedProxiesWide, ['0.0.0.0/0'], 'the opt-in is kept, for the warning at start');
});
