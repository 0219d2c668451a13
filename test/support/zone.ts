/**
 * An in-process zone for KDS tests: its own embedded database, the zone-side sync state, and the KDS
 * client talking to a real global over 127.0.0.1. (End-to-end tests run real zone-agent processes.)
 */
import { type Database, type Logger, notifyWaker, ResourceStore, type Waker } from '@ursa/core';
import { migrate, openPglite } from '@ursa/core/node';
import { KdsClient, type KdsClientOptions, LOCAL, ZoneSyncState } from '@ursa/zone-agent';

export interface TestZone {
  readonly name: string;
  readonly store: ResourceStore;
  readonly state: ZoneSyncState;
  /** The current client (a new one after `restartClient`). */
  readonly client: KdsClient;
  readonly database: Database;
  /**
   * Stops the current client (if still running) and starts a new KdsClient on the same database and sync
   * state, as a restarted zone agent would; optionally against another global URL or transport.
   */
  restartClient(opts?: { globalUrl?: string; transport?: 'ws' | 'poll' }): Promise<KdsClient>;
  stop(): Promise<void>;
}

export async function startZone(opts: { name: string; globalUrl: string; token: string | (() => string); transport: 'ws' | 'poll'; database?: Database; pollWaitS?: number; log?: Logger; inspect?: KdsClientOptions['inspect'] }): Promise<TestZone> {
  const database = opts.database ?? (await openPglite());
  if (!opts.database) await migrate(database);
  const store = new ResourceStore(database.db);
  const state = new ZoneSyncState(store);
  const waker: Waker = await notifyWaker(database);
  const token = opts.token;
  const newClient = (globalUrl: string, transport: 'ws' | 'poll') =>
    new KdsClient({
      globalUrl,
      zone: opts.name,
      token: async () => (typeof token === 'function' ? token() : token),
      transport,
      state,
      instanceId: `${opts.name}-test`,
      agentVersion: 'test',
      onLocalChange: (l) => waker.subscribe(LOCAL, () => l()),
      backoff: { baseMs: 50, maxMs: 500 },
      pollWaitS: opts.pollWaitS ?? 2,
      log: opts.log,
      inspect: opts.inspect,
    });
  let client = newClient(opts.globalUrl, opts.transport);
  client.start();
  return {
    name: opts.name,
    store,
    state,
    get client() {
      return client;
    },
    database,
    restartClient: async (r = {}) => {
      await client.stop();
      client = newClient(r.globalUrl ?? opts.globalUrl, r.transport ?? opts.transport);
      client.start();
      return client;
    },
    stop: async () => {
      await client.stop();
      await waker.close();
      if (!opts.database) await database.close();
    },
  };
}

/** Polls `check` until it returns true, failing with `what` after `ms`. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (${last})` : ''}`);
}
