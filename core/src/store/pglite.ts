/**
 * Opens embedded Postgres (PGlite, PostgreSQL in wasm): file-backed under a data directory, or in memory
 * when `dataDir` is undefined. Node only; the Worker never imports this file.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

/**
 * A new database starts from a copy of initdb's output instead of running initdb: in PGlite, initdb restores
 * the whole wasm heap before each of the backends it runs, and took 4.7 s of a 7.3 s first start of the global
 * (a CPU profile of `PGlite.create` on an empty directory, 2-vCPU VM); unpacking the copy takes ~1.4 s. It
 * serves the global's and the zone agent's first start and every in-memory database of the tests. The copy is
 * made once per PGlite build and start parameters (the first new database dumps itself, before any
 * migration), kept in the OS temp directory and written with tmp + rename, so a reader never sees half of
 * one. Databases made from it share PostgreSQL's system identifier, which only replication looks at.
 */
const TEMPLATE = join(tmpdir(), `ursa-pglite-initdb-${createHash('sha256').update(JSON.stringify([pgliteBuild(), START_PARAMS])).digest('hex').slice(0, 16)}.tar`);

/** What tells PGlite builds apart: its wasm's size and modification time. */
function pgliteBuild(): string {
  try {
    const wasm = fileURLToPath(new URL('./pglite.wasm', pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite'))));
    const st = statSync(wasm);
    return `${st.size}-${st.mtimeMs}`;
  } catch {
    return 'unknown';
  }
}

async function readTemplate(): Promise<Blob | undefined> {
  try {
    return new Blob([await readFile(TEMPLATE)]);
  } catch {
    return undefined;
  }
}

/** Best effort: without a template the next new database runs initdb again. */
async function saveTemplate(client: PGlite): Promise<void> {
  try {
    const tar = Buffer.from(await (await client.dumpDataDir('none')).arrayBuffer());
    const tmp = `${TEMPLATE}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, tar);
    await rename(tmp, TEMPLATE);
  } catch {
    /* a read-only temp directory: fine */
  }
}

export async function openPglite(dataDir?: string): Promise<Database> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const fresh = !dataDir || !existsSync(join(dataDir, 'PG_VERSION'));
  const template = fresh ? await readTemplate() : undefined;
  const client = await PGlite.create({ ...(dataDir ? { dataDir } : {}), ...(template ? { loadDataDir: template } : {}), startParams: START_PARAMS });
  if (fresh && !template) await saveTemplate(client);
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    backend: 'pglite',
    close: () => client.close(),
    listen: async (channel, onPayload) => client.listen(channel, onPayload),
  };
}
