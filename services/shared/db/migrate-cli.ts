import { EnvReader } from '../env.js';
import { connect } from './connect.js';
import { createMigrator, assertMigrated } from './migrator.js';

/**
 * `npm run migrate` — applies migrations/ to DATABASE_URL (or DATABASE_URL_FILE).
 * `npm run migrate -- down` reverts the newest one. Exits non-zero on any failure.
 */
async function main(argv: string[]): Promise<number> {
  const r = new EnvReader(process.env);
  const url = r.url('DATABASE_URL', { required: true, file: true, protocols: ['postgres:', 'postgresql:'] });
  r.done();
  const db = connect({ url: url!, poolMax: 1, queryTimeoutMs: 0, connectTimeoutMs: 10_000 });
  try {
    const migrator = createMigrator(db.kysely);
    const result = argv[0] === 'down' ? await migrator.migrateDown() : await migrator.migrateToLatest();
    for (const m of result.results ?? []) {
      process.stdout.write(`${m.status.padEnd(8)} ${m.direction.toLowerCase()} ${m.migrationName}\n`);
    }
    assertMigrated(result);
    if ((result.results ?? []).length === 0) process.stdout.write('already up to date\n');
    return 0;
  } finally {
    await db.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`migrate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
