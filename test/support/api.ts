/**
 * The global plane's app served on a real socket (127.0.0.1, random port) over a real database, for API
 * tests. Loopback admin is on, as in `npm start`, unless the test turns it off.
 */
import type { AddressInfo } from 'node:net';
import { serve, upgradeWebSocket } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { createStores, type Database, notifyWaker, openPostgres, type ResourceStore, type StagingLimits, type Stores, type TokenStore } from '@ursa/core';
import { createGlobalApp, FeedCache, type GlobalAppDeps, LeaseKeeper, StreamTracker } from '@ursa/global-api';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Backend } from './backends.js';

export interface ApiServer {
  readonly url: string;
  readonly database: Database;
  readonly resources: ResourceStore;
  readonly tokens: TokenStore;
  readonly stores: Stores;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Serve on an existing database (a second replica) instead of opening a new one. */
  readonly database?: Database;
  /**
   * With `database` on PostgreSQL: open this replica's own postgres.js client on its URL (own pool and own
   * LISTEN connection, closed with this server), as a separate replica process would, instead of sharing
   * the handle. (PGlite is in-process: replicas always share it.)
   */
  readonly ownConnection?: boolean;
  readonly heartbeatMs?: number;
  readonly leaseTtlMs?: number;
  /** How often a live session's zone state is stored at most. */
  readonly progressFlushMs?: number;
  readonly instanceId?: string;
  /** What one zone may stage, and after how long an abandoned upload is swept (KDS defaults otherwise). */
  readonly stagingLimits?: StagingLimits;
  readonly stagingTtlMs?: number;
  /** How long a forwarded inspect request waits for the zone (default FORWARD_TIMEOUT_MS). */
  readonly forwardTimeoutMs?: number;
}

export async function startApi(backend: Backend, overrides: Partial<GlobalAppDeps> = {}, opts: StartOptions = {}): Promise<ApiServer> {
  const { database, dispose } = opts.database ? shared(opts.database, opts.ownConnection ?? false) : await backend.open();
  const waker = await notifyWaker(database);
  const tracker = new StreamTracker();
  const leaseTtlMs = opts.leaseTtlMs ?? 3000;
  const stores = createStores(database.db);
  const feed = new FeedCache(stores.resources, waker);
  const keeper = new LeaseKeeper(database.db, leaseTtlMs);
  const { resources, tokens } = stores;
  const app = createGlobalApp({
    instanceId: opts.instanceId ?? 'test-0000',
    hostname: 'test',
    defaultTenant: 'default',
    openStores: () => stores,
    auth: { loopbackAdmin: true, operatorToken: 'operator-token-for-tests', isLoopback: (c) => /^(127\.|::1$|::ffff:127\.)/.test(getConnInfo(c).remote.address ?? '') },
    meshDefaults: true,
    config: { test: true },
    forward: { instanceId: opts.instanceId ?? 'test-0000', tracker, timeoutMs: opts.forwardTimeoutMs },
    kds: { waker, heartbeatMs: opts.heartbeatMs ?? 1000, leaseTtlMs, upgradeWebSocket: upgradeWebSocket as never, tracker, feed, keeper, progressFlushMs: opts.progressFlushMs, stagingLimits: opts.stagingLimits, stagingTtlMs: opts.stagingTtlMs },
    ...overrides,
  });
  const wss = new WebSocketServer({ noServer: true });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0, websocket: { server: wss } });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    database,
    resources,
    tokens,
    stores,
    close: async () => {
      await tracker.closeAll();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      keeper.close();
      feed.close();
      await waker.close();
      await dispose();
    },
  };
}

/** Another replica's view of an existing database: the same handle, or its own client on the same URL. */
function shared(database: Database, own: boolean): { database: Database; dispose: () => Promise<void> } {
  if (!own || database.backend !== 'postgres' || !database.url) return { database, dispose: async () => {} };
  const mine = openPostgres(database.url, { max: 20 });
  return { database: mine, dispose: () => mine.close() };
}

/**
 * fetch with a JSON (or raw string) body and optional bearer token; returns status, headers and parsed body.
 * Sends `Accept: application/json` unless `headers.accept` says otherwise: the token endpoints answer Kuma's
 * plain-text token to clients that do not ask for JSON (pass `headers: { accept: '*\/*' }` for that).
 */
export async function call(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
