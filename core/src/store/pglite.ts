/**
 * Opens embedded Postgres (PGlite, PostgreSQL in wasm): file-backed under a data directory, or in memory
 * when `dataDir` is undefined. Node only; the Worker never imports this file.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import type { Database, Db } from './db.js';
import * as schema from './schema.js';

/**
 * PGlite's own start parameters (its `defaultStartParams` in 0.5), which `startParams` replaces rather than
 * extends, plus a smaller buffer pool. PostgreSQL zero-fills its shared buffers at start, and in wasm that
 * memset ran for ~0.5 s of a 1 s open at the default 128 MB (a profile of `PGlite.create` on a 2-vCPU VM);
 * it also made every in-memory instance resident at 128 MB. Reads beyond the pool come from the OS page cache
 * (file-backed) or memory (in-memory), so 16 MB costs little: a zone of 10,000 proxies stores a few MB.
 */
const START_PARAMS = [
  '--single', '-F', '-O', '-j',
  '-c', 'search_path=public',
  '-c', 'exit_on_error=false',
  '-c', 'log_checkpoints=false',
  '-c', 'max_worker_processes=0',
  '-c', 'max_parallel_workers=0',
  '-c', 'max_parallel_workers_per_gather=0',
  '-c', 'io_method=sync',
  '-c', 'max_parallel_maintenance_workers=0',
  '-c', 'shared_buffers=16MB',
];

export async function openPglite(dataDir?: string): Promise<Database> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const client = await PGlite.create({ ...(dataDir ? { dataDir } : {}), startParams: START_PARAMS });
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    backend: 'pglite',
    close: () => client.close(),
    listen: async (channel, onPayload) => client.listen(channel, onPayload),
  };
}
