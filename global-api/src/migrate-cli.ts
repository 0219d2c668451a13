/**
 * `npm run db:migrate`: applies the SQL migrations to PostgreSQL (`--database-url`, `URSA_DATABASE_URL` or
 * `DATABASE_URL`) or, without one, to the embedded database under `--data-dir` (`URSA_DATA_DIR`, default
 * `./.ursa`), then exits. The Node entry migrates on start-up by itself; the Worker never does, so a database
 * served by a Worker (directly or through Hyperdrive) must be migrated with this first.
 */
import { sql } from 'drizzle-orm';
import { OPTIONS } from './config.js';
import { ConfigError, type Database, helpText, maskSecret, openPostgres, parseOptions } from '@ursa/core';
import { migrate, openPglite } from '@ursa/core/node';

const USED = OPTIONS.filter((o) => o.key === 'databaseUrl' || o.key === 'dataDir');

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseOptions<{ databaseUrl?: string; dataDir: string }>(USED, process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ursa db:migrate: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${helpText('npm run db:migrate -- [flags]   (or: tsx global-api/src/migrate-cli.ts [flags])', USED)}\n`);
    return;
  }
  const { databaseUrl, dataDir } = parsed.config;
  const where = databaseUrl ? withoutPassword(databaseUrl) : `${dataDir}/db (embedded)`;
  const database: Database = databaseUrl ? openPostgres(databaseUrl, { max: 1 }) : await openPglite(`${dataDir}/db`);
  try {
    await migrate(database);
    const rows = (await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)) as unknown as { n: number }[] | { rows: { n: number }[] };
    const n = Array.isArray(rows) ? rows[0]?.n : rows.rows[0]?.n;
    console.log(`ursa db:migrate: ${where} is up to date (${n ?? '?'} migrations applied)`);
  } finally {
    await database.close();
  }
}

/** The URL to say what was migrated: its password masked, the rest shown. */
function withoutPassword(url: string): string {
  const u = new URL(url);
  return u.password ? maskSecret(url) : u.toString();
}

main().catch((err) => {
  console.error('ursa db:migrate: failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
