import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../services/shared/embedded-postgres.js';
import { connect } from '../../services/shared/db/connect.js';
import { migrateToLatest } from '../../services/shared/db/migrator.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A Postgres of this test's own (migrated), that the test can stop and start again on the same port and data. */
export interface OwnPostgres {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function ownPostgres(t: Teardown): Promise<OwnPostgres> {
  const dataDir = await mkdtemp(join(tmpdir(), 'own-pg-'));
  let server: EmbeddedPg | undefined = await startEmbeddedPostgres({ dataDir, persistent: true });
  const port = server.port;
  const url = server.adminUrl;
  const db = connect({ url, poolMax: 1 });
  await migrateToLatest(db.kysely);
  await db.destroy();
  t.teardown(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    url,
    port,
    async stop() {
      const s = server;
      server = undefined;
      await s?.stop();
    },
    async start() {
      server ??= await startEmbeddedPostgres({ dataDir, persistent: true, port });
    },
  };
}

