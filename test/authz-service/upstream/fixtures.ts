/** What the X-Auth-Request-Jwt tests on the real authz-service share: the keys, the policy, /auth and JWKS calls, metrics, the app. */
import type { JSONWebKeySet } from 'jose';
import { withDb } from '../../helpers/db.js';
import { buildAuthz } from '../../helpers/authz.js';
import { newSigningKey } from '../../helpers/tokens.js';
import type { SigningKey } from '../../../services/shared/jwt-keys.js';
import type { App } from '../../../services/shared/app-base.js';

export const ISS = 'https://authz.test.example';
export const tokenKey = newSigningKey('ES256');
export const authzKey = newSigningKey('ES256');

export const POLICY = `
rules:
  - id: docs-public
    effect: allow
    public: true
    paths: ["/docs/**"]
  - id: staff-app
    effect: allow
    paths: ["/app/**"]
    groups: [staff]
    upstreamJwt: true
  - id: orders
    effect: allow
    paths: ["/orders/**"]
    groups: [staff]
    upstreamJwt: true
    audience: orders-api
  - id: plain
    effect: allow
    paths: ["/plain/**"]
    groups: [staff]
  - id: secrets-never
    effect: deny
    paths: ["/app/secrets/**"]
`;

export const upstreamEnv = (keys: SigningKey[] = [authzKey], extra: Record<string, string> = {}) => ({
  UPSTREAM_JWT_PRIVATE_KEY: keys.map((k) => k.privatePem).join(''),
  UPSTREAM_JWT_ISSUER: ISS,
  ...extra,
});

export const ask = (app: App, uri: string, o: { token?: string; host?: string; cookie?: string } = {}) =>
  app.inject({
    method: 'GET',
    url: '/auth',
    headers: {
      'x-original-uri': uri,
      'x-original-method': 'GET',
      host: o.host ?? 'app.example.com',
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
    },
  });

export async function jwksOf(app: App): Promise<JSONWebKeySet> {
  const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  if (res.statusCode !== 200) throw new Error(`JWKS answered ${res.statusCode}`);
  return res.json() as JSONWebKeySet;
}

export async function metric(app: App, name: string, label?: string): Promise<number> {
  const m = app.metrics.getSingleMetric(name);
  if (!m) throw new Error(`${name} is not registered`);
  const { values } = await m.get();
  const v = values.find((x) => label === undefined || Object.values(x.labels).includes(label));
  if (!v) throw new Error(`${name}{${label}} has no value`);
  return v.value;
}

export async function setup(t: { teardown(fn: () => unknown): void }, env: Record<string, string> = upstreamEnv(), policy = POLICY) {
  const db = await withDb(t);
  const authz = await buildAuthz(t, { databaseUrl: db.url, keys: [tokenKey], policy, env });
  return { db, ...authz };
}
