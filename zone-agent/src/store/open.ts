/**
 * Opens the zone's embedded database (PGlite under `<data-dir>/db`) and brings its schema up to date.
 * `main.ts` starts this as soon as the resolver thread is spawned: PGlite compiles its wasm on background
 * threads, so the compile overlaps the resolver's start and the loading of the agent's modules instead of
 * following them (a restarted agent serves its API about 0.3 s sooner on a 2-vCPU VM). Imported dynamically:
 * the start-up path stays light.
 */
import type { Database, Logger } from '@ursa/core';

export async function openZoneDatabase(dataDir: string, log: Logger): Promise<Database> {
  const { migrate, openPglite } = await import('@ursa/core/node');
  const database = await openPglite(`${dataDir}/db`);
  log.debug(`database open at ${sinceStart()} ms`);
  await migrate(database);
  log.debug(`migrations checked at ${sinceStart()} ms`);
  return database;
}

/** Milliseconds since this process started: the start-up phases are logged at debug level with it. */
export const sinceStart = (): number => Math.round(performance.now());
