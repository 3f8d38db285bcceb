import t from 'tap';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../services/shared/env.js';
import { loadTokenServiceConfig } from '../../services/token-service/config.js';
import { loadAuthzServiceConfig } from '../../services/authz-service/config.js';
import { authzServiceEnv, tokenServiceEnv } from '../helpers/env.js';

const tokenEnv = await tokenServiceEnv();
const authzEnv = await authzServiceEnv();
const token = (env: Record<string, string>) => loadTokenServiceConfig({ ...tokenEnv, ...env });
const authz = (env: Record<string, string>) => loadAuthzServiceConfig({ ...authzEnv, ...env });

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
    t.same(problemsOf(() => token(row.env)), row.problems, `token-service: ${row.name}`);
    t.same(problemsOf(() => authz(row.env)), row.problems, `authz-service: ${row.name}`);
  }
});

t.test('defaults: 0.0.0.0, token-service 8080/9464, authz-service 8081/9465', async (t) => {
  t.match(token({ DATABASE_URL: DB }), { host: '0.0.0.0', port: 8080, metricsPort: 9464, logLevel: 'info', databaseUrl: DB });
  t.match(authz({ DATABASE_URL: DB }), { host: '0.0.0.0', port: 8081, metricsPort: 9465, frontEnd: 'nginx', accessLog: true, accessLogAllowedSample: 100 });
});

t.test('secrets are read from *_FILE; giving both is an error; an unreadable file is named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'db-url');
  await writeFile(file, `${DB}\n`);
  t.equal(token({ DATABASE_URL_FILE: file }).databaseUrl, DB, 'trailing newline trimmed');
  t.same(problemsOf(() => token({ DATABASE_URL_FILE: file, DATABASE_URL: DB })), [
    'DATABASE_URL: set either DATABASE_URL or DATABASE_URL_FILE, not both',
  ]);
  t.same(problemsOf(() => token({ DATABASE_URL_FILE: join(dir, 'nope') })), [
    `DATABASE_URL_FILE: cannot read ${join(dir, 'nope')} (ENOENT)`,
  ]);
});

t.test('LISTEN_DATABASE_URL: optional (the listener then uses DATABASE_URL), a postgres URL, also as _FILE, in both services', async (t) => {
  const DIRECT = 'postgres://u:p@10.0.0.5:5432/db';
  for (const [name, load] of [['token-service', token], ['authz-service', authz]] as const) {
    t.equal(load({ DATABASE_URL: DB }).listenDatabaseUrl, undefined, `${name}: unset by default`);
    t.equal(load({ DATABASE_URL: DB, LISTEN_DATABASE_URL: DIRECT }).listenDatabaseUrl, DIRECT, `${name}: read`);
    t.same(problemsOf(() => load({ DATABASE_URL: DB, LISTEN_DATABASE_URL: 'http://u:secret@h/db' })), [
      'LISTEN_DATABASE_URL: expected a URL (postgres: or postgresql:), got an unusable value',
    ], `${name}: not postgres, and the value is not echoed`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'listen-url');
  await writeFile(file, `${DIRECT}\n`);
  t.equal(authz({ DATABASE_URL: DB, LISTEN_DATABASE_URL_FILE: file }).listenDatabaseUrl, DIRECT, 'from LISTEN_DATABASE_URL_FILE');
  t.match(authz({ DATABASE_URL: DB }), { listenerProbe: { intervalMs: 500, timeoutMs: 500 }, cache: { degradedBatchMs: 5 } }, 'probe and degraded-mode defaults');
  t.same(problemsOf(() => authz({ DATABASE_URL: DB, LISTENER_PROBE_INTERVAL_MS: '10', LIVENESS_DEGRADED_BATCH_MS: '0' })), [
    'LIVENESS_DEGRADED_BATCH_MS: expected an integer between 1 and 500, got "0"',
    'LISTENER_PROBE_INTERVAL_MS: expected an integer between 50 and 60000, got "10"',
  ]);
});

t.test('a problem message never echoes a secret value', async (t) => {
  const secret = 'postgres-password-value';
  const problems = problemsOf(() => token({ DATABASE_URL: `mysql://u:${secret}@h/db` }));
  t.equal(problems.length, 1);
  t.notMatch(problems[0], secret);
});

t.test('service variables: each problem names its variable', async (t) => {
  const rows: { name: string; load: () => unknown; problems: string[] }[] = [
    { name: 'JWT key of the wrong algorithm', load: () => token({ DATABASE_URL: DB, JWT_ALGORITHM: 'RS256' }), problems: ['JWT_PRIVATE_KEY: key #1 (ec) cannot sign RS256 (it fits ES256)'] },
    { name: 'unknown JWT algorithm', load: () => token({ DATABASE_URL: DB, JWT_ALGORITHM: 'HS256' }), problems: ['JWT_ALGORITHM: expected one of ES256, RS256, EdDSA, got "HS256"'] },
    { name: 'IdP certificate not PEM', load: () => token({ DATABASE_URL: DB, SAML_IDP_CERT: 'abc' }), problems: ['SAML_IDP_CERT: expected one or more PEM certificates (-----BEGIN CERTIFICATE-----)'] },
    { name: 'bad ALLOWED_CIDRS', load: () => token({ DATABASE_URL: DB, ALLOWED_CIDRS: '10.0.0.0/8, 300.1.1.1' }), problems: ['ALLOWED_CIDRS: invalid CIDR list entry 2: "300.1.1.1" is not an IPv4 or IPv6 address or CIDR'] },
    { name: 'return URL not absolute', load: () => token({ DATABASE_URL: DB, ALLOWED_RETURN_URLS: '/relative' }), problems: ['ALLOWED_RETURN_URLS: "/relative" is not an absolute http(s) URL'] },
    { name: 'unknown front end', load: () => authz({ DATABASE_URL: DB, FRONT_END: 'haproxy' }), problems: ['FRONT_END: expected one of nginx, ingress-nginx, traefik, envoy, got "haproxy"'] },
    { name: 'both key sources', load: () => authz({ DATABASE_URL: DB, JWKS_URL: 'http://token/.well-known/jwks.json' }), problems: ['JWT_PUBLIC_KEYS: set either JWT_PUBLIC_KEYS (or _FILE) or JWKS_URL, not both'] },
    { name: 'no key source', load: () => loadAuthzServiceConfig({ ...authzEnv, JWT_PUBLIC_KEYS: '', DATABASE_URL: DB }), problems: ['JWT_PUBLIC_KEYS: required: JWT_PUBLIC_KEYS (or JWT_PUBLIC_KEYS_FILE) or JWKS_URL'] },
    { name: 'unknown path relaxation', load: () => authz({ DATABASE_URL: DB, PATH_RELAXATIONS: 'encoded-slash,anything' }), problems: ['PATH_RELAXATIONS: unknown relaxation "anything" (known: encoded-slash, dot-segments, path-parameters, double-encoding, backslash, no-merge-slashes)'] },
    { name: 'access-line sample of 0', load: () => authz({ DATABASE_URL: DB, ACCESS_LOG_ALLOWED_SAMPLE: '0' }), problems: ['ACCESS_LOG_ALLOWED_SAMPLE: expected an integer between 1 and 1000000, got "0"'] },
    { name: 'missing policy file variable', load: () => loadAuthzServiceConfig({ ...authzEnv, POLICY_FILE: '', DATABASE_URL: DB }), problems: ['POLICY_FILE: required'] },
  ];
  for (const row of rows) t.same(problemsOf(row.load), row.problems, row.name);
});
