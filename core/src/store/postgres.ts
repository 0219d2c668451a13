/** Opens PostgreSQL through postgres.js. Safe in workerd (nodejs_compat) as well as Node. */
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Database, Db } from './db.js';
import * as schema from './schema.js';
import { guardTransactions } from './postgres-transactions.js';

export interface PostgresOptions {
  /** Pool size; a Worker uses 1 per request. */
  max?: number;
  /** Workers through Hyperdrive must not prepare statements. */
  workerSafe?: boolean;
  /** postgres.js's socket factory (Node: `startupGuardedSockets` from `@ursa/core/node`). */
  socket?: (options: never) => unknown;
}

/** Reconnect attempts wait at most this long (postgres.js: 20 s), so the plane serves again soon after the database is back. */
const MAX_BACKOFF_S = 2;

export function openPostgres(url: string, opts: PostgresOptions = {}): Database {
  const client = postgres(url, {
    max: opts.max ?? 10,
    onnotice: () => {},
    // postgres.js 3.4.9 reads the array types on every new connection from a promise nobody awaits
    // (connection.js:564 `return fetchArrayTypes()`): a connection terminated while it does so is an unhandled
    // rejection, which ends a Node process. Nothing here sends or reads PostgreSQL arrays (a Worker has always
    // run without them).
    fetch_types: false,
    // postgres.js's curve (3^n / 100 s, halved at random) capped lower.
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, MAX_BACKOFF_S),
    // A connect that hangs (a failed-over address that drops packets) fails its request after 5 s, not 30.
    connect_timeout: 5,
    ...(opts.workerSafe ? { prepare: false } : {}),
    // Not in postgres.js's option types, but read by it (src/index.js parseOptions, connection.js createSocket).
    ...(opts.socket ? ({ socket: opts.socket } as object) : {}),
  });
  const db = drizzle(guardTransactions(client), { schema }) as unknown as Db;
  return {
    db,
    backend: 'postgres',
    url,
    close: () => client.end({ timeout: 5 }),
    // postgres.js keeps one dedicated connection for LISTEN and re-subscribes after it reconnects; `onlisten`
    // runs after every subscription, the first one included.
    listen: async (channel, onPayload, onResubscribed) => {
      let subscribed = false;
      const sub = await client.listen(channel, onPayload, () => {
        if (subscribed) onResubscribed?.();
        subscribed = true;
      });
      return () => sub.unlisten();
    },
  };
}
