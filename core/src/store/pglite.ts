/**
 * Opens embedded Postgres (PGlite, PostgreSQL in wasm): file-backed under a data directory, or in memory
 * when `dataDir` is undefined. Node only; the Worker never imports this file.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import type { Database, Db } from './db.js';
import * as schema from './schema.js';

export async function openPglite(dataDir?: string): Promise<Database> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir ? { dataDir } : {});
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    backend: 'pglite',
    close: () => client.close(),
    listen: async (channel, onPayload) => client.listen(channel, onPayload),
  };
}
