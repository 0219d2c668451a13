/**
 * A global whose session is busy sending (here: its read of the change feed waits on a database lock, as a
 * pump packing 40 × 900 KB on a loaded VM waits on the CPU) still heartbeats: the zone, whose silence bound
 * is three heartbeats, keeps its one session through a wait of many heartbeats, and the change made
 * meanwhile arrives once the lock is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { backends } from '@ursa/test-support/backends.js';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { meshTimeoutBody } from '@ursa/test-support/fixtures.js';
import { eventually, startZone, type TestZone } from '@ursa/test-support/zone.js';

const HEARTBEAT_MS = 250;
/** Twelve heartbeats: four times the zone's silence bound. */
const HOLD_MS = 12 * HEARTBEAT_MS;

for (const backend of backends()) {
  describe(`a busy KDS pump on ${backend.name}`, () => {
    let api: ApiServer;
    let zone: TestZone;

    beforeAll(async () => {
      // A long lease: on PGlite the lock holds every query, the keeper's renewals too.
      api = await startApi(backend, {}, { heartbeatMs: HEARTBEAT_MS, leaseTtlMs: 60_000 });
      await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
      const token = (await api.stores.zoneTokens.issue('default', 'zone-1', 3600)).token;
      zone = await startZone({ name: 'zone-1', globalUrl: api.url, token, transport: 'ws' });
      await eventually('zone-1 connected', () => zone.client.status.connected);
    });
    afterAll(async () => {
      await zone?.stop();
      await api?.close();
    });

    it('keeps the zone session through a feed read held for twelve heartbeats', async () => {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const holding = new Promise<void>((r) => (locked = r));
      // The feed is refreshed at least once a second on each heartbeat's pump, so the session's queue is
      // soon waiting on this lock (PostgreSQL: the table; PGlite: the whole database, one transaction at a time).
      const held = api.database.db.transaction(async (tx) => {
        await tx.execute(sql`lock table resources in access exclusive mode`);
        locked();
        await released;
      });
      await holding;
      const until = Date.now() + HOLD_MS;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
        expect(zone.client.status.lastError, 'the zone ended its session while the global was busy').toBeUndefined();
      }
      release();
      await held;

      await call(api.url, 'PUT', '/meshes/default/meshtimeouts/after-hold', { body: meshTimeoutBody('after-hold', '2s') });
      await eventually('zone-1 has after-hold', async () => (await zone.store.get('local', { kind: 'MeshTimeout', mesh: 'default', name: 'after-hold' })) !== undefined);
      expect(zone.client.status.sessions).toBe(1);
      expect(zone.client.status.connected).toBe(true);
    }, 30_000);
  });
}
