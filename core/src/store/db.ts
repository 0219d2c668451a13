/**
 * The database handle the store works with. Both drivers (postgres.js and PGlite) give a drizzle `PgDatabase`
 * over the same schema, so the store has one implementation. This file imports no driver: opening one is
 * the job of `postgres.ts` (Node and Workers) and `pglite.ts` (Node only).
 */
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** An open database plus what it takes to close it. */
export interface Database {
  readonly db: Db;
  /** `postgres` or `pglite`, for logs and benchmarks. */
  readonly backend: 'postgres' | 'pglite';
  /** The connection string, for PostgreSQL (migrations open their own single connection). */
  readonly url?: string;
  close(): Promise<void>;
  /**
   * Subscribes to a NOTIFY channel: every replica on PostgreSQL, or the same process on PGlite. Returns
   * the unsubscribe function. Absent where the database cannot notify (Workers through Hyperdrive).
   * `onResubscribed` runs each time the subscription is back after its connection was lost (PostgreSQL):
   * notifications sent meanwhile were missed.
   */
  listen?(channel: string, onPayload: (payload: string) => void, onResubscribed?: () => void): Promise<() => Promise<void>>;
}
