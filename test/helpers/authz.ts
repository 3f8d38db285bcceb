import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import inject, { type InjectOptions, type Response } from 'light-my-request';
import { buildApp } from '../../services/authz-service/app.js';
import { loadAuthzServiceConfig } from '../../services/authz-service/config.js';
import type { App } from '../../services/shared/app-base.js';
import type { SigningKey } from '../../services/shared/jwt-keys.js';
import { LogCapture } from './app.js';
import { AUDIENCE, ISSUER } from './tokens.js';

export const TEST_POLICY = `
rules:
  - id: docs-public
    effect: allow
    public: true
    paths: ["/docs/**"]
    methods: [GET, HEAD]
  - id: staff-app
    effect: allow
    paths: ["/app/**", "/api/**"]
    groups: [staff]
  - id: admin-console
    effect: allow
    hosts: ["admin.example.com"]
    paths: ["/**"]
    groups: [admins]
  - id: no-deletes-for-contractors
    effect: deny
    paths: ["/api/**"]
    methods: [DELETE]
    groups: [contractors]
  - id: secrets-never
    effect: deny
    paths: ["/app/secrets/**"]
`;

export async function writePolicy(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'policy-'));
  const file = join(dir, 'policy.yaml');
  await writeFile(file, text);
  return file;
}

export interface AuthzFixture {
  /** `app.inject` sends each request through the server's own listener: `/auth` reaches the front door. */
  app: App;
  /** Fastify's own `inject`: straight to the router (the `/auth` route), bypassing the front door. */
  viaRouter: (opts: InjectOptions) => Promise<Response>;
  logs: LogCapture;
  policyFile: string;
}

/** An authz-service app on a test database, configured only through its environment. */
export async function buildAuthz(
  t: { teardown(fn: () => unknown): void },
  opts: { databaseUrl: string; keys: SigningKey[]; env?: Record<string, string>; policy?: string },
): Promise<AuthzFixture> {
  const policyFile = await writePolicy(opts.policy ?? TEST_POLICY);
  const config = loadAuthzServiceConfig({
    DATABASE_URL: opts.databaseUrl,
    POLICY_FILE: policyFile,
    JWT_PUBLIC_KEYS: opts.keys.map((k) => k.publicPem).join(''),
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    LOG_LEVEL: 'info',
    ...opts.env,
  });
  const logs = new LogCapture();
  const app = await buildApp(config, { logStream: logs });
  t.teardown(() => app.close());
  const viaRouter = app.inject.bind(app) as (opts: InjectOptions) => Promise<Response>;
  throughServer(app);
  return { app, logs, policyFile, viaRouter };
}

/**
 * Points `app.inject` at the listener a real server runs (front door first, then Fastify's router),
 * as NGINX's requests meet it. Fastify's own inject calls the router directly.
 */
export function throughServer(app: App): void {
  const listener = app.server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
  const viaServer = async (opts: InjectOptions | string) => {
    await app.ready();
    return inject(listener, opts);
  };
  Object.assign(app, { inject: viaServer });
}
