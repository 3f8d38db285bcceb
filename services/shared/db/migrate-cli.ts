import { createInterface } from 'node:readline/promises';
import { pathToFileURL } from 'node:url';
import { connect } from './connect.js';
import { createMigrator, assertMigrated } from './migrator.js';
import { cliDatabaseUrl, redactUrl } from './cli-database-url.js';

export const USAGE = `usage: npm run migrate [-- up]          apply every pending migration (the default)
       npm run migrate -- down --yes    revert the newest migration (without --yes: asks on a terminal, else refuses)
       npm run migrate -- --help
The database: DATABASE_URL (or DATABASE_URL_FILE); unset, the one a running \`npm start\` uses.`;

export interface MigrateIo {
  out(line: string): void;
  err(line: string): void;
  /** Asks a yes/no question on a terminal; undefined when there is no terminal to ask on. */
  confirm?: (question: string) => Promise<boolean>;
}

/**
 * `npm run migrate` — applies migrations/ (`up`, the default) or reverts the newest one (`down`, which
 * drops tables: it needs `--yes`, or a "yes" typed on a terminal). An unknown command is a usage error
 * (exit 2), never a silent `up`. Exits non-zero on any failure.
 */
export async function runMigrate(argv: readonly string[], env: NodeJS.ProcessEnv, io: MigrateIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  const yes = argv.includes('--yes');
  const rest = argv.filter((a) => a !== '--yes');
  const command = rest[0] ?? 'up';
  if (rest.length > 1 || (command !== 'up' && command !== 'down') || (yes && command !== 'down')) {
    io.err(`migrate: ${rest.length > 1 ? `unexpected "${rest.slice(1).join(' ')}"` : command !== 'up' && command !== 'down' ? `unknown command "${command}"` : '--yes only goes with down'}\n${USAGE}`);
    return 2;
  }
  const url = cliDatabaseUrl(env, (line) => io.err(`migrate: ${line}`));
  if (command === 'down' && !yes) {
    const ok = io.confirm ? await io.confirm(`Revert the newest migration on ${redactUrl(url)}? Its tables and their data are dropped. Type "yes": `) : false;
    if (!ok) {
      io.err(io.confirm ? 'migrate: not reverted' : 'migrate: down drops tables and their data: add --yes to confirm (no terminal to ask on)');
      return 1;
    }
  }
  const db = connect({ url, poolMax: 1, queryTimeoutMs: 0, connectTimeoutMs: 10_000 });
  try {
    const migrator = createMigrator(db.kysely);
    const result = command === 'down' ? await migrator.migrateDown() : await migrator.migrateToLatest();
    for (const m of result.results ?? []) io.out(`${m.status.padEnd(8)} ${m.direction.toLowerCase()} ${m.migrationName}`);
    assertMigrated(result);
    if ((result.results ?? []).length === 0) io.out(command === 'down' ? 'nothing to revert' : 'already up to date');
    return 0;
  } finally {
    await db.destroy();
  }
}

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const io: MigrateIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    ...(process.stdin.isTTY && process.stderr.isTTY ? { confirm: askOnTerminal } : {}),
  };
  runMigrate(process.argv.slice(2), process.env, io).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`migrate: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
