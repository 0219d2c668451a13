/**
 * End to end with real processes on 127.0.0.1: one global and three zone agents (WebSocket and long-poll),
 * on embedded Postgres, and on PostgreSQL when DATABASE_URL is set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { eventually } from '@ursa/test-support/zone.js';
import { scratchDatabase } from '@ursa/test-support/backends.js';

const policy = (name: string, timeout: string) => ({
  type: 'MeshTimeout',
  mesh: 'default',
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
});
const dataplane = (name: string, service: string) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: { address: '10.0.0.9', inbound: [{ port: 8080, tags: { 'kuma.io/service': service } }] },
});
const zoneIngress = (name: string, port: number) => ({
  type: 'ZoneIngress',
  name,
  networking: { address: '10.0.0.1', advertisedAddress: '192.0.2.10', port, advertisedPort: port },
  availableServices: [{ mesh: 'default', instances: 1, tags: { 'kuma.io/service': 'web' } }],
});


const stores = process.env.DATABASE_URL ? (['pglite', 'postgres'] as const) : (['pglite'] as const);

for (const store of stores) {
  describe(`KDS end to end, real processes, global on ${store}`, () => {
    let global: GlobalProc;
    const zones: Record<string, ZoneProc> = {};
    let drop: (() => Promise<void>) | undefined;

    const zoneGet = async (zone: string, path: string) => (await call(zones[zone]!.url, 'GET', path)).body;

    beforeAll(async () => {
      let databaseUrl: string | undefined;
      if (store === 'postgres') ({ url: databaseUrl, drop } = await scratchDatabase(process.env.DATABASE_URL!, 'ursa_e2e'));
      global = await startGlobal({ databaseUrl });
      await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
      const transports = { 'zone-1': 'ws', 'zone-2': 'poll', 'zone-3': 'ws' } as const;
      await Promise.all(
        Object.entries(transports).map(async ([name, transport]) => {
          const token = (await call(global.url, 'POST', '/tokens/zone', { body: { zone: name, validFor: 3600 } })).body.token as string;
          zones[name] = await startZoneAgent({ name, globalUrl: global.url, token, transport });
        }),
      );
    }, 120_000);

    afterAll(async () => {
      await Promise.all(Object.values(zones).map((z) => z.stop()));
      await global?.stop();
      await drop?.();
      await removeDirs([global?.dataDir, ...Object.values(zones).map((z) => z.dataDir)].filter(Boolean) as string[]);
    });

    it('every zone comes Online and receives the mesh', async () => {
      await eventually('3 zones online', async () => {
        const zs = (await call(global.url, 'GET', '/zones/_overview')).body;
        return zs.items?.length === 3;
      }, 30_000);
      for (const z of Object.keys(zones)) await eventually(`${z} has mesh`, async () => (await call(zones[z]!.url, 'GET', '/meshes/default')).status === 200, 20_000);
    });

    it('a policy created, updated and deleted on the global reaches every zone', async () => {
      expect((await call(global.url, 'PUT', '/meshes/default/meshtimeouts/slow', { body: policy('slow', '3s') })).status).toBe(201);
      for (const z of Object.keys(zones)) await eventually(`${z} has slow`, async () => (await zoneGet(z, '/meshes/default/meshtimeouts/slow'))?.spec?.to?.[0]?.default?.http?.requestTimeout === '3s', 20_000);
      await call(global.url, 'PUT', '/meshes/default/meshtimeouts/slow', { body: policy('slow', '9s') });
      for (const z of Object.keys(zones)) await eventually(`${z} has slow=9s`, async () => (await zoneGet(z, '/meshes/default/meshtimeouts/slow'))?.spec?.to?.[0]?.default?.http?.requestTimeout === '9s', 20_000);
      await call(global.url, 'DELETE', '/meshes/default/meshtimeouts/slow');
      for (const z of Object.keys(zones)) await eventually(`${z} lost slow`, async () => (await call(zones[z]!.url, 'GET', '/meshes/default/meshtimeouts/slow')).status === 404, 20_000);
      // A zone refuses writes of global-owned types, as Kuma's federated zones do.
      const refused = await call(zones['zone-1']!.url, 'PUT', '/meshes/default/meshtimeouts/local', { body: policy('local', '1s') });
      expect(refused.status).toBe(405);
      expect(refused.body.detail).toContain('On zone control plane you can only modify zone resources');
    });

    it('zone inventory reaches the global; zone-2 sees zone-3\'s ingress and not its own', async () => {
      expect((await call(zones['zone-1']!.url, 'PUT', '/meshes/default/dataplanes/web-1', { body: dataplane('web-1', 'web') })).status).toBe(201);
      expect((await call(zones['zone-2']!.url, 'PUT', '/zoneingresses/ingress', { body: zoneIngress('ingress', 10002) })).status).toBe(201);
      expect((await call(zones['zone-3']!.url, 'PUT', '/zoneingresses/ingress', { body: zoneIngress('ingress', 10003) })).status).toBe(201);
      await eventually('web-1 on the global', async () => (await call(global.url, 'GET', '/meshes/default/dataplanes?filter[labels.kuma.io/zone]=zone-1')).body.total === 1, 20_000);
      const dp = (await call(global.url, 'GET', '/meshes/default/dataplanes?filter[labels.kuma.io/zone]=zone-1')).body.items[0];
      expect(dp.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/display-name': 'web-1' });
      expect(dp.networking.inbound[0].tags['kuma.io/zone']).toBe('zone-1');
      await eventually('zone-2 sees zone-3 ingress', async () => {
        const items = (await zoneGet('zone-2', '/zoneingresses')).items as { labels?: Record<string, string> }[];
        return items.some((i) => i.labels?.['kuma.io/zone'] === 'zone-3');
      }, 20_000);
      const seenByZone2 = ((await zoneGet('zone-2', '/zoneingresses')).items as { name: string; labels?: Record<string, string> }[]).map((i) => `${i.labels?.['kuma.io/origin']}:${i.labels?.['kuma.io/zone']}`);
      expect(seenByZone2.sort()).toEqual(['global:zone-3', 'zone:zone-2']);
    });

    it('disabling a zone removes its ingress everywhere and takes it Offline; enabling restores both', async () => {
      await call(global.url, 'PUT', '/zones/zone-3', { body: { type: 'Zone', name: 'zone-3', enabled: false } });
      await eventually('zone-2 lost zone-3 ingress', async () => {
        const items = (await zoneGet('zone-2', '/zoneingresses')).items as { labels?: Record<string, string> }[];
        return !items.some((i) => i.labels?.['kuma.io/zone'] === 'zone-3');
      }, 20_000);
      await eventually('zone-3 offline', async () => (await zoneGet('zone-3', '/ready')).kds.connected === false, 20_000);
      await call(global.url, 'PUT', '/zones/zone-3', { body: { type: 'Zone', name: 'zone-3', enabled: true } });
      await eventually('zone-2 regains zone-3 ingress', async () => {
        const items = (await zoneGet('zone-2', '/zoneingresses')).items as { labels?: Record<string, string> }[];
        return items.some((i) => i.labels?.['kuma.io/zone'] === 'zone-3');
      }, 30_000);
      await eventually('zone-3 reconnected', async () => (await zoneGet('zone-3', '/ready')).kds.connected === true, 30_000);
    });

    it('zone deletion is refused while connected and cascades once the agent stops', async () => {
      const refused = await call(global.url, 'DELETE', '/zones/zone-3');
      expect(refused.status).toBe(400);
      expect(refused.body.invalid_parameters[0]).toMatchObject({ field: 'zone', reason: 'unable to delete Zone, Zone CP is still connected, please shut it down first' });
      await zones['zone-3']!.stop();
      await eventually('zone-3 deletable', async () => (await call(global.url, 'DELETE', '/zones/zone-3')).status === 200, 20_000);
      expect((await call(global.url, 'GET', '/zoneingresses?filter[labels.kuma.io/zone]=zone-3')).body.total).toBe(0);
      expect((await call(global.url, 'GET', '/zone-insights/zone-3')).status).toBe(404);
      await eventually('zone-2 dropped zone-3 ingress', async () => {
        const items = (await zoneGet('zone-2', '/zoneingresses')).items as { labels?: Record<string, string> }[];
        return !items.some((i) => i.labels?.['kuma.io/zone'] === 'zone-3');
      }, 20_000);
    });
  });
}
