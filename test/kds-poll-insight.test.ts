/**
 * A long-poll zone keeps reporting its state after its lease ran out once. Every long-poll session of one
 * agent process has the same id (`poll-<instance>`), so a lease that runs out between two requests (a slow
 * moment, a network blip: the client here stops for longer than the lease) appends a second subscription
 * with that id to the ZoneInsight. The zone's applied revision must keep reaching the newest one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '@ursa/test-support/backends.js';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { meshTimeoutBody } from '@ursa/test-support/fixtures.js';
import { eventually, startZone, type TestZone } from '@ursa/test-support/zone.js';

for (const backend of backends()) {
  describe(`long-poll zone insight after a lapsed lease on ${backend.name}`, () => {
    let api: ApiServer;
    let zone: TestZone;

    beforeAll(async () => {
      api = await startApi(backend, {}, { progressFlushMs: 200 });
      await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
      zone = await startZone({ name: 'zone-1', globalUrl: api.url, token: (await api.stores.zoneTokens.issue('default', 'zone-1', 3600)).token, transport: 'poll', pollWaitS: 1 });
    });
    afterAll(async () => {
      await zone?.stop();
      await api?.close();
    });

    const subscriptions = async () => (await call(api.url, 'GET', '/zone-insights/zone-1')).body.subscriptions as { id: string; disconnectTime?: string; zoneState?: { appliedRevision: string } }[];
    /** Changes a policy and waits for the zone's own report of having applied it (what `/zone-insights` shows operators). */
    const reportsChange = async (timeout: string) => {
      await call(api.url, 'PUT', '/meshes/default/meshtimeouts/probe', { body: meshTimeoutBody('probe', timeout) });
      const revision = await api.stores.resources.currentRevision('default');
      await eventually(`zone-1 reports revision ${revision}`, async () => Number((await subscriptions()).at(-1)?.zoneState?.appliedRevision ?? 0) >= revision);
    };

    it('reports the revision it applied before and after its lease ran out between two polls', async () => {
      await eventually('zone-1 online', () => api.stores.kds.isOnline('default', 'zone-1'));
      await reportsChange('1s');

      await zone.client.stop();
      await eventually('zone-1 offline (lease ran out)', async () => !(await api.stores.kds.isOnline('default', 'zone-1')));
      await zone.restartClient();
      // One subscription per lapse, all with the same id; only the newest is open. (A loaded host may add lapses of its own.)
      await eventually('a second subscription', async () => (await subscriptions()).length >= 2);
      const subs = await subscriptions();
      expect(new Set(subs.map((s) => s.id))).toEqual(new Set(['poll-zone-1-test']));
      expect(subs.map((s) => s.disconnectTime === undefined)).toEqual([...subs.slice(1).map(() => false), true]);

      await reportsChange('2s');
      await reportsChange('3s');
    });
  });
}
