/**
 * A zone agent's HTTP API in-process (the shared app with the zone plane's rules: `createApp` with
 * `plane: zone`), on a real socket and its own database, for tests of what both planes' APIs share
 * (bodies, limits, tokens) without starting a zone-agent process.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createApp, createStores, type Stores } from '@ursa/core';
import type { Backend } from './backends.js';

export interface ZoneApi {
  readonly url: string;
  readonly stores: Stores;
  close(): Promise<void>;
}

/** A standalone zone (`federated: false`: every type writable, as Kuma's standalone mode) unless told otherwise. */
export async function startZoneApi(backend: Backend, opts: { zone?: string; federated?: boolean } = {}): Promise<ZoneApi> {
  const { database, dispose } = await backend.open();
  const stores = createStores(database.db);
  const app = createApp({
    instanceId: 'zone-test-0000',
    hostname: 'zone-test',
    defaultTenant: 'local',
    openStores: () => stores,
    auth: { loopbackAdmin: true, isLoopback: (c) => /^(127\.|::1$|::ffff:127\.)/.test(getConnInfo(c).remote.address ?? '') },
    meshDefaults: false,
    config: { zone: opts.zone ?? 'zone-1' },
    plane: { kind: 'zone', zone: opts.zone ?? 'zone-1', federated: opts.federated ?? false },
  });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stores,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispose();
    },
  };
}
