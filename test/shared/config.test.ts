import t from 'tap';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../services/shared/env.js';
import { loadTokenServiceConfig } from '../../services/token-service/config.js';
import { loadAuthzServiceConfig } from '../../services/authz-service/config.js';

const DB = 'postgres://u:p@127.0.0.1:5432/db';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

t.test('common variables: one problem per bad variable, each naming it', async (t) => {
  const rows: { name: string; env: Record<string, string>; problems: string[] }[] = [
    { name: 'missing DATABASE_URL', env: {}, problems: ['DATABASE_URL: required (or DATABASE_URL_FILE)'] },
    { name: 'DATABASE_URL not postgres', env: { DATABASE_URL: 'mysql://x/y' }, problems: ['DATABASE_URL: expected a URL (postgres: or postgresql:), got an unusable value'] },
    { name: 'PORT not a number', env: { DATABASE_URL: DB, PORT: '80a' }, problems: ['PORT: expected an integer between 0 and 65535, got "80a"'] },
    { name: 'PORT out of range', env: { DATABASE_URL: DB, PORT: '70000' }, problems: ['PORT: expected an integer between 0 and 65535, got "70000"'] },
    { name: 'LOG_LEVEL unknown', env: { DATABASE_URL: DB, LOG_LEVEL: 'verbose' }, problems: ['LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"'] },
    { name: 'metrics on the main port', env: { DATABASE_URL: DB, PORT: '9000', METRICS_PORT: '9000' }, problems: ['METRICS_PORT: must differ from PORT (metrics are never served on the main port)'] },
    {
      name: 'several problems at once',
      env: { PORT: 'x', DATABASE_POOL_MAX: '0' },
      problems: [
        'DATABASE_URL: required (or DATABASE_URL_FILE)',
        'DATABASE_POOL_MAX: expected an integer between 1 and 1000, got "0"',
        'PORT: expected an integer between 0 and 65535, got "x"',
      ],
    },
  ];
  for (const row of rows) {
    t.same(problemsOf(() => loadTokenServiceConfig(row.env)), row.problems, `token-service: ${row.name}`);
    t.same(problemsOf(() => loadAuthzServiceConfig(row.env)), row.problems, `authz-service: ${row.name}`);
  }
});

t.test('defaults: 0.0.0.0, token-service 8080/9464, authz-service 8081/9465', async (t) => {
  const token = loadTokenServiceConfig({ DATABASE_URL: DB });
  t.match(token, { host: '0.0.0.0', port: 8080, metricsPort: 9464, logLevel: 'info', databaseUrl: DB });
  const authz = loadAuthzServiceConfig({ DATABASE_URL: DB });
  t.match(authz, { host: '0.0.0.0', port: 8081, metricsPort: 9465 });
});

t.test('secrets are read from *_FILE; giving both is an error; an unreadable file is named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'db-url');
  await writeFile(file, `${DB}\n`);
  t.equal(loadTokenServiceConfig({ DATABASE_URL_FILE: file }).databaseUrl, DB, 'trailing newline trimmed');
  t.same(problemsOf(() => loadTokenServiceConfig({ DATABASE_URL_FILE: file, DATABASE_URL: DB })), [
    'DATABASE_URL: set either DATABASE_URL or DATABASE_URL_FILE, not both',
  ]);
  t.same(problemsOf(() => loadTokenServiceConfig({ DATABASE_URL_FILE: join(dir, 'nope') })), [
    `DATABASE_URL_FILE: cannot read ${join(dir, 'nope')} (ENOENT)`,
  ]);
});

t.test('a problem message never echoes a secret value', async (t) => {
  const secret = 'postgres-password-value';
  const problems = problemsOf(() => loadTokenServiceConfig({ DATABASE_URL: `mysql://u:${secret}@h/db` }));
  t.equal(problems.length, 1);
  t.notMatch(problems[0], secret);
});
