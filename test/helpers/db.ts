import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { connect, type Db } from '../../services/shared/db/connect.js';
import { defaultMigrationsDir, migrateToLatest } from '../../services/shared/db/migrator.js';
import { REVOCATION_CHANNEL } from '../../services/shared/db/schema.js';

/** The server `npm test` started (or the one DATABASE_URL names): each test file makes its own database. */
export function adminUrl(): string {
  const url = process.env.TEST_ADMIN_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error('run the tests with `npm test` (it starts Postgres) or set DATABASE_URL');
  return url;
}

export function urlFor(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

interface Teardown {
  teardown(fn: () => Promise<void> | void): void;
}

/** A new, empty database for this test file, dropped when the test ends. */
export async function createTestDatabase(t: Teardown, opts: { migrate?: boolean } = {}): Promise<{ url: string; name: string }> {
  const name = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  if (opts.migrate !== false) {
    const db = connect({ url, poolMax: 1 });
    try {
      await migrateToLatest(db.kysely);
    } finally {
      await db.destroy();
    }
  }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: adminUrl() });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  });
  return { url, name };
}

/** A migrated database and a pool on it, both released when the test ends. */
export async function withDb(t: Teardown): Promise<Db & { url: string }> {
  const { url } = await createTestDatabase(t);
  const db = connect({ url, poolMax: 4 });
  t.teardown(() => db.destroy());
  return Object.assign(db, { url });
}

/** Every migration in migrations/, oldest first (the list grows; tests never hard-code it). */
export function migrationNames(): string[] {
  return readdirSync(defaultMigrationsDir()).filter((f) => f.endsWith('.up.sql')).map((f) => f.slice(0, -'.up.sql'.length)).sort();
}

/**
 * Listens on the revocation channel (as every authz replica does) for the rest of the test. `received()`
 * makes a round trip on the listening connection first, which delivers everything notified before it.
 */
export async function listenForRevocations(t: Teardown, url: string): Promise<{ received(): Promise<string[]> }> {
  const listener = new pg.Client({ connectionString: url });
  await listener.connect();
  t.teardown(() => listener.end());
  const payloads: string[] = [];
  listener.on('notification', (n) => payloads.push(n.payload ?? ''));
  await listener.query(`LISTEN ${REVOCATION_CHANNEL}`);
  return {
    async received() {
      await listener.query('select 1');
      return [...payloads];
    },
  };
}
