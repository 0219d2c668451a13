/** KDS between a real global (HTTP + WebSocket on 127.0.0.1) and in-process zones, on both transports. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '@ursa/test-support/backends.js';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { meshTimeoutBody } from '@ursa/test-support/fixtures.js';
import { eventually, startZone, type TestZone } from '@ursa/test-support/zone.js';

const policy = (name: string, timeout: string) => meshTimeoutBody(name, timeout);

const ingress = (port: number) => ({
  kind: 'ZoneIngress',
  name: 'ingress',
  labels: {},
  spec: { networking: { address: '10.0.0.1', advertisedAddress: '192.0.2.1', port, advertisedPort: port }, availableServices: [{ mesh: 'default', instances: 2, tags: { 'kuma.io/service': 'web' } }] },
});

for (const backend of backends()) {
  for (const transport of ['ws', 'poll'] as const) {
    describe(`KDS over ${transport} on ${backend.name}`, () => {
      let api: ApiServer;
      const zones: TestZone[] = [];
      const token = async (zone: string) => (await api.stores.zoneTokens.issue('default', zone, 3600)).token;

      beforeAll(async () => {
        api = await startApi(backend, {}, { progressFlushMs: 200 });
        await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
        for (const name of ['zone-1', 'zone-2']) zones.push(await startZone({ name, globalUrl: api.url, token: await token(name), transport }));
      });
      afterAll(async () => {
        await Promise.all(zones.map((z) => z.stop()));
        await api?.close();
      });

      const zoneHas = (z: TestZone, kind: string, name: string, mesh = 'default') => z.store.get('local', { kind, mesh, name });

      it('policies flow down: create, update, delete', async () => {
        await call(api.url, 'PUT', '/meshes/default/meshtimeouts/t1', { body: policy('t1', '1s') });
        for (const z of zones) await eventually(`${z.name} has t1`, async () => (await zoneHas(z, 'MeshTimeout', 't1'))?.spec !== undefined);
        expect((await zoneHas(zones[0]!, 'MeshTimeout', 't1'))?.labels['kuma.io/origin']).toBe('global');
        await call(api.url, 'PUT', '/meshes/default/meshtimeouts/t1', { body: policy('t1', '7s') });
        for (const z of zones) {
          await eventually(`${z.name} has t1 updated`, async () => {
            const r = await zoneHas(z, 'MeshTimeout', 't1');
            return JSON.stringify(r?.spec).includes('7s');
          });
        }
        await call(api.url, 'DELETE', '/meshes/default/meshtimeouts/t1');
        for (const z of zones) await eventually(`${z.name} lost t1`, async () => (await zoneHas(z, 'MeshTimeout', 't1')) === undefined);
        // The mesh's default policies came along too.
        expect(await zoneHas(zones[1]!, 'MeshRetry', 'mesh-retry-all-default')).toBeDefined();
      });

      it('inventory flows up, into the zone\'s slice; ingresses flow across but not back', async () => {
        const [z1, z2] = zones as [TestZone, TestZone];
        await z1.store.create('local', { kind: 'Dataplane', mesh: 'default', name: 'web-1', spec: { networking: { address: '10.0.0.5', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web', 'kuma.io/zone': 'lies' } }] } } });
        await z2.store.create('local', { kind: 'Dataplane', mesh: 'default', name: 'web-1', spec: { networking: { address: '10.0.1.5', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }] } } });
        await z1.store.create('local', ingress(10001));
        await eventually('both web-1 on the global', async () => (await call(api.url, 'GET', '/meshes/default/dataplanes')).body.total === 2);
        const dps = (await call(api.url, 'GET', '/meshes/default/dataplanes')).body.items as { name: string; labels: Record<string, string>; networking: { inbound: { tags: Record<string, string> }[] } }[];
        const fromZ1 = dps.find((d) => d.labels['kuma.io/zone'] === 'zone-1')!;
        expect(fromZ1.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/display-name': 'web-1' });
        expect(fromZ1.name).toMatch(/^web-1-[a-z0-9]{16}$/);
        // A zone cannot claim another zone in its tags.
        expect(fromZ1.networking.inbound[0]!.tags['kuma.io/zone']).toBe('zone-1');
        // zone-2 receives zone-1's ingress; zone-1 does not get its own back.
        await eventually('zone-2 sees zone-1 ingress', async () => (await z2.store.list('local', 'ZoneIngress')).items.some((i) => i.labels['kuma.io/zone'] === 'zone-1'));
        const own = (await z1.store.list('local', 'ZoneIngress')).items;
        expect(own.map((i) => i.name)).toEqual(['ingress']);
        // A removal flows up and across.
        await z1.store.delete('local', { kind: 'ZoneIngress', name: 'ingress' });
        await eventually('zone-2 lost zone-1 ingress', async () => (await z2.store.list('local', 'ZoneIngress')).total === 0);
      });

      it('zones are Online while connected, with a ZoneInsight subscription', async () => {
        await eventually('zone-1 online', async () => api.stores.kds.isOnline('default', 'zone-1'));
        const insight = await call(api.url, 'GET', '/zone-insights/zone-1');
        expect(insight.body.subscriptions.at(-1)).toMatchObject({ zoneInstanceId: 'zone-1-test', globalInstanceId: 'test-0000' });
        // The zone's own view reaches the global too: the revision it has applied catches up with the tenant's.
        await call(api.url, 'PUT', '/meshes/default/meshtimeouts/state-probe', { body: policy('state-probe', '3s') });
        const revision = await api.stores.resources.currentRevision('default');
        await eventually('zone-1 reports the revision it applied', async () => {
          const sub = (await call(api.url, 'GET', '/zone-insights/zone-1')).body.subscriptions.at(-1);
          return Number(sub?.zoneState?.appliedRevision ?? 0) >= revision;
        });
        const del = await call(api.url, 'DELETE', '/zones/zone-1');
        expect(del.status).toBe(400);
        expect(del.body.invalid_parameters).toEqual([{ field: 'zone', reason: 'unable to delete Zone, Zone CP is still connected, please shut it down first', source: 'body' }]);
      });
    });
  }
}

describe('zone tokens on a fresh global', () => {
  it('POST /tokens/zone works before the tenant has written anything', async () => {
    const api = await startApi(backends()[0]!);
    try {
      const r = await call(api.url, 'POST', '/tokens/zone', { body: { zone: 'early', validFor: 60 } });
      expect(r.status).toBe(201);
      expect(r.body.token.split('.')).toHaveLength(3);
    } finally {
      await api.close();
    }
  });
});
