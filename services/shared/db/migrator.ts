import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import { repoRoot } from '../repo-root.js';

/** The repository's migrations/ folder (source or dist). */
export function defaultMigrationsDir(): string {
  return join(repoRoot(), 'migrations');
}

/** Kysely's own migration lock id: a migrator of an older version (session-level lock) still conflicts. */
const MIGRATION_LOCK_ID = 3853314791062309107n;

/**
 * Each migration first takes the migration lock for the rest of the migrator's transaction, then checks
 * that no other migrator applied it meanwhile. Transaction-scoped, so it works through a transaction-mode
 * pooler (PgBouncer), where a session-level lock would outlive the migration on a pooled connection.
 */
async function lockFor(db: Kysely<unknown>, name: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK_ID)})`.execute(db);
  const done = await sql<{ n: number }>`select count(*)::int as n from kysely_migration where name = ${name}`.execute(db);
  if ((done.rows[0]?.n ?? 0) > 0) throw new Error(`migration ${name} was applied meanwhile by another migrator: nothing done, run again`);
}

/**
 * Plain SQL migrations: NNNN_name.up.sql with an optional NNNN_name.down.sql. Each file runs in the
 * migrator's transaction. Migrations never import application code and are frozen once landed.
 */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = await readdir(this.dir);
    const migrations: Record<string, Migration> = {};
    for (const file of files.filter((f) => f.endsWith('.up.sql')).sort()) {
      const name = file.slice(0, -'.up.sql'.length);
      const upSql = await readFile(join(this.dir, file), 'utf8');
      const downFile = `${name}.down.sql`;
      const downSql = files.includes(downFile) ? await readFile(join(this.dir, downFile), 'utf8') : undefined;
      migrations[name] = {
        up: async (db: Kysely<unknown>) => {
          await lockFor(db, name);
          await sql.raw(upSql).execute(db);
        },
        ...(downSql === undefined
          ? {}
          : {
              down: async (db: Kysely<unknown>) => {
                await sql`select pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK_ID)})`.execute(db);
                await sql.raw(downSql).execute(db);
              },
            }),
      };
    }
    return migrations;
  }
}

export function createMigrator(db: Kysely<any>, dir = defaultMigrationsDir()): Migrator {
  return new Migrator({ db, provider: new SqlFileMigrationProvider(dir) });
}

/** Throws when the result set carries an error: callers exit non-zero on it (never log-and-continue). */
export function assertMigrated(result: MigrationResultSet): void {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    const err = new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${String((result.error as Error).message ?? result.error)}`);
    (err as Error & { cause?: unknown }).cause = result.error;
    throw err;
  }
}

export async function migrateToLatest(db: Kysely<any>, dir?: string): Promise<string[]> {
  const result = await createMigrator(db, dir).migrateToLatest();
  assertMigrated(result);
  return (result.results ?? []).map((r) => r.migrationName);
}

/** Names of migrations present on disk but not applied to this database. */
export async function pendingMigrations(db: Kysely<any>, dir?: string): Promise<string[]> {
  const all = await createMigrator(db, dir).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
