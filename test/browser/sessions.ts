/**
 * What the session scenarios need beside the browser: the claims of the token cookie Chromium holds,
 * Postgres rows aged as time would age them (a token past its expiry, a session past its idle
 * deadline: the row changes, the database notifies every authz replica, exactly as at expiry), and a
 * question put to one authz-service replica directly, as NGINX asks it (its front end's headers).
 */
import { request } from 'node:http';
import pg from 'pg';
import type { Test } from 'tap';
import type { Stack } from '../e2e/fixture.js';
import type { ServiceProcess } from '../helpers/process.js';

/** The claims of a JWT (not verified: the services verify; the test only reads jti and sid). */
export function claims(jwt: string): { jti: string; sid: string; sub: string } {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti: string; sid: string; sub: string };
}

/** A client on the stack's database, closed after the test. */
export async function database(t: Test, stack: Stack): Promise<pg.Client> {
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  return db;
}

/** The token's time runs out: its row is issued 16 min ago and expired a minute ago (outside the renewal overlap). */
export async function expireToken(db: pg.Client, jti: string): Promise<number> {
  const res = await db.query(`update issued_tokens set issued_at = now() - interval '16 minutes', expires_at = now() - interval '1 minute' where jti = $1`, [jti]);
  return res.rowCount ?? 0;
}

/** The session has been idle past SESSION_IDLE_TIMEOUT_SECONDS: its idle deadline is a second ago. */
export async function idleSession(db: pg.Client, sid: string): Promise<number> {
  const res = await db.query(`update sessions set last_seen_at = now() - interval '31 minutes', idle_expires_at = now() - interval '1 second' where sid = $1 and ended_at is null`, [sid]);
  return res.rowCount ?? 0;
}

/** The status one authz-service replica answers for a GET of `path` with this token, asked as NGINX asks it. */
export function askReplica(stack: Stack, replica: ServiceProcess, token: string, path = '/app/home'): Promise<number> {
  const original = stack.config === 'ingress-nginx'
    ? { 'x-original-url': `${stack.base}${path}`, 'x-auth-request-redirect': path }
    : { 'x-original-uri': path, host: new URL(stack.base).host };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: replica.port, path: '/auth', method: 'GET', headers: { ...original, 'x-original-method': 'GET', authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('authz-service did not answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Asks the replica every 10 ms until it answers 401; resolves with the milliseconds since `since`
 * (performance.now()), or rejects after `ms`.
 */
export async function refusedAfter(stack: Stack, replica: ServiceProcess, token: string, since: number, ms = 3000): Promise<number> {
  for (;;) {
    const status = await askReplica(stack, replica, token);
    if (status === 401) return performance.now() - since;
    if (performance.now() - since > ms) throw new Error(`replica on :${replica.port} still answers ${status} ${ms} ms later`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
