/** Opens PostgreSQL through postgres.js. Safe in workerd (nodejs_compat) as well as Node. */
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Database, Db } from './db.js';
import * as schema from './schema.js';

export interface PostgresOptions {
  /** Pool size; a Worker uses 1 per request. */
  max?: number;
  /** Workers through Hyperdrive must not prepare statements or fetch types. */
  workerSafe?: boolean;
}

export function openPostgres(url: string, opts: PostgresOptions = {}): Database {
  const client = postgres(url, {
    max: opts.max ?? 10,
    onnotice: () => {},
    ...(opts.workerSafe ? { fetch_types: false, prepare: false } : {}),
  });
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    backend: 'postgres',
    url,
    close: () => client.end({ timeout: 5 }),
    // postgres.js keeps one dedicated connection for LISTEN and re-subscribes after reconnects.
    listen: async (channel, onPayload) => {
      const sub = await client.listen(channel, onPayload);
      return () => sub.unlisten();
    },
  };
}
