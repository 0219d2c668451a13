/**
 * The databases tests run against: embedded PGlite (in memory) always, and real PostgreSQL when
 * `DATABASE_URL` is set (CI sets it). Each Postgres-backed test file gets its own fresh database, created
 * here and dropped afterwards, so files run in parallel without seeing each other's rows.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { type Database, openPostgres } from '@ursa/core';
import { migrate, openPglite } from '@ursa/core/node';

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

export interface ScratchDatabase {
  /** Connection URL of the new, empty database (not migrated). */
  readonly url: string;
  /** Drops it, ending whatever connections are still open on it. */
  drop(): Promise<void>;
}

/**
 * Creates an empty PostgreSQL database named `<prefix>_<random>` next to the one `adminUrl` names, for one test
 * file or one benchmark run (child processes get its URL). Every suite and bench that needs its own database
 * goes through here, so names, cleanup and the forced drop are the same everywhere.
 */
export async function scratchDatabase(adminUrl: string, prefix = 'ursa_test'): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

export function postgresBackend(adminUrl: string): Backend {
  return {
    name: 'postgres',
    async open() {
      const scratch = await scratchDatabase(adminUrl);
      const database = openPostgres(scratch.url, { max: 20 });
      await migrate(database);
      return {
        database,
        dispose: async () => {
          await database.close();
          await scratch.drop();
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
