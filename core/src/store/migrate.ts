/**
 * Applies the SQL migrations in `migrations/` (Node only: the migrator reads files). On PostgreSQL an
 * advisory lock makes replicas that start together apply them once; PGlite has a single writer anyway.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { Database } from './db.js';
import { openPostgres } from './postgres.js';

/**
 * The repository's `migrations/`, found by walking up from this module: the same code runs from its source
 * file (tsx) and from the zone agent's prebuilt bundle (`zone-agent/dist/`), which sit at different depths.
 */
export const MIGRATIONS_DIR = findMigrations(dirname(fileURLToPath(import.meta.url)));

function findMigrations(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'migrations', 'meta', '_journal.json'))) return join(dir, 'migrations');
    if (dirname(dir) === dir) throw new Error(`migrations/ not found above ${start}`);
  }
}
/** Arbitrary constant naming Ursa's migration lock ("ursa"). */
const MIGRATION_LOCK_ID = 0x75727361;

export async function migrate(database: Database): Promise<void> {
  const config = { migrationsFolder: MIGRATIONS_DIR };
  if (database.backend === 'pglite') {
    await migratePglite(database.db as never, config);
    return;
  }
  if (!database.url) throw new Error('migrate: a PostgreSQL database needs its URL to migrate');
  // A pool of one: the session-level lock, the migrator's transaction and the unlock share a connection.
  const single = openPostgres(database.url, { max: 1 });
  try {
    await single.db.execute(sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`);
    try {
      await migratePostgres(single.db as never, config);
    } finally {
      await single.db.execute(sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`);
    }
  } finally {
    await single.close();
  }
}
