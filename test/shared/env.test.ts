import t from 'tap';
import { EnvReader, ConfigError } from '../../services/shared/env.js';

t.test('reports every problem at once, each naming its variable', async (t) => {
  const r = new EnvReader({ PORT: 'eighty', LOG_LEVEL: 'loud' });
  r.port('PORT', 8080);
  r.oneOf('LOG_LEVEL', ['info', 'debug'], 'info');
  r.required('DATABASE_URL');
  t.throws(() => r.done(), ConfigError);
  t.same(r.problems, [
    'PORT: expected an integer between 0 and 65535, got "eighty"',
    'LOG_LEVEL: expected one of info, debug, got "loud"',
    'DATABASE_URL: required',
  ]);
});
