/**
 * A zone that hangs up while the global is still checking its hello (a slow database under a reconnect storm,
 * and the zone's own hello timeout) must leave nothing behind: the global releases the lease it was taking, so
 * the zone shows Offline, and keeps no session for the closed socket. Before the fix the session started anyway,
 * with no socket to end it: it renewed its lease for ever (the zone stayed Online after its agent was gone, as in
 * Kuma's complaint of zones Online for minutes) and it was never freed (thousands of such sessions piled up in
 * the 10,000-zone benchmark). Real sockets and a real database; the token check is held open by a gate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodeFrame, type Stores, type ZoneTokens } from '@ursa/core';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';
import { rawHello } from '@ursa/test-support/kds-hello.js';
import { waitFor } from '@ursa/test-support/process.js';

describe.each(backends().map((b) => [b.name, b] as const))('a zone that hangs up during its hello (%s)', (_name, backend) => {
  let api: ApiServer;
  let view: Stores | undefined;
  let gate: Promise<void> = Promise.resolve();
  let verifying = 0;

  beforeAll(async () => {
    api = await startApi(backend, { openStores: () => view! }, { leaseTtlMs: 1500 });
    // The same stores, with the zone-token check held until the test opens the gate.
    const real = api.stores.zoneTokens;
    const gated = new Proxy(real, {
      get(target, key) {
        if (key === 'verify') {
          return async (...args: Parameters<ZoneTokens['verify']>) => {
            verifying++;
            await gate;
            return target.verify(...args);
          };
        }
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    view = { ...api.stores, zoneTokens: gated };
  }, 60_000);
  afterAll(async () => api?.close());

  it('releases the lease it was taking and stays Offline', async () => {
    const token = (await call(api.url, 'POST', '/tokens/zone', { body: { zone: 'quitter', scope: ['cp'] } })).body.token as string;
    let release!: () => void;
    gate = new Promise<void>((r) => (release = r));
    const ws = new WebSocket(new URL('/kds/v1/stream', api.url));
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(encodeFrame({ body: { $case: 'hello', value: rawHello({ zone: 'quitter', token }) } }));
    await waitFor('the hello being checked', async () => (verifying > 0 ? true : undefined), 10_000);
    ws.terminate();
    await new Promise((r) => ws.once('close', r));
    release();

    // The attach finishes (the Zone is created on first connect), then the lease it took is released.
    await waitFor('the zone known to the global', async () => ((await call(api.url, 'GET', '/zones/quitter')).status === 200 ? true : undefined), 10_000);
    await waitFor('quitter Offline', async () => (!(await api.stores.kds.isOnline('default', 'quitter')) ? true : undefined), 10_000);
    // Two lease lifetimes later it is still Offline: nothing renews a lease for the closed socket.
    const until = Date.now() + 3200;
    while (Date.now() < until) {
      expect(await api.stores.kds.isOnline('default', 'quitter')).toBe(false);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 30_000);
});
