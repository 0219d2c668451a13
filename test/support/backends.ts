/**
 * The databases tests run against: embedded PGlite (in memory) always, and real PostgreSQL when
 * `DATABASE_URL` is set (CI sets it). Each Postgres-backed test file gets its own fresh database, created
 * here and dropped afterwards, so files run in parallel without seeing each other's rows.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { Database } from '../../global-api/src/store/db.js';
import { migrate } from '../../global-api/src/store/migrate.js';
import { openPglite } from '../../global-api/src/store/pglite.js';
import { openPostgres } from '../../global-api/src/store/postgres.js';

export interface Backend {
  readonly name: 'pglite' | 'postgres';
  /** Opens a migrated, empty database; `dispose` closes it and drops what was created. */
  open(): Promise<{ database: Database; dispose: () => Promise<void> }>;
}

export const pgliteBackend: Backend = {
  name: 'pglite',
  async open() {
    const database = await openPglite();
    await migrate(database);
    return { database, dispose: () => database.close() };
  },
};

export function postgresBackend(adminUrl: string): Backend {
  return {
    name: 'postgres',
    async open() {
      const dbName = `ursa_test_${randomBytes(6).toString('hex')}`;
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`create database ${dbName}`);
      const url = new URL(adminUrl);
      url.pathname = `/${dbName}`;
      const database = openPostgres(url.toString(), { max: 20 });
      await migrate(database);
      return {
        database,
        dispose: async () => {
          await database.close();
          await admin.unsafe(`drop database if exists ${dbName} with (force)`);
          await admin.end();
        },
      };
    },
  };
}

/** PGlite, plus PostgreSQL when DATABASE_URL is set. */
export function backends(): Backend[] {
  const url = process.env.DATABASE_URL;
  return url ? [pgliteBackend, postgresBackend(url)] : [pgliteBackend];
}
