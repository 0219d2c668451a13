/**
 * A zone that hangs up while the global is still checking its hello (a slow database under a reconnect storm,
 * and the zone's own hello timeout) must leave nothing behind: the global stops its attach once the token check
 * returns (no lease, no Zone registered, no session for the closed socket), so the zone stays Offline. Before the fix the session started anyway,
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
  let verified = 0;

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
            try {
              return await target.verify(...args);
            } finally {
              verified++;
            }
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

    // The check finishes; the attach sees the socket gone and stops there: no lease, and no Zone either (a zone
    // that never completed a hello is not registered).
    await waitFor('the token check done', async () => (verified > 0 ? true : undefined), 10_000);
    await waitFor('quitter Offline', async () => (!(await api.stores.kds.isOnline('default', 'quitter')) ? true : undefined), 10_000);
    expect((await call(api.url, 'GET', '/zones/quitter')).status).toBe(404);
    // Two lease lifetimes later it is still Offline and unknown: nothing renews a lease for the closed socket.
    const until = Date.now() + 3200;
    while (Date.now() < until) {
      expect(await api.stores.kds.isOnline('default', 'quitter')).toBe(false);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 30_000);
});
