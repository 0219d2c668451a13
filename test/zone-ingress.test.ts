/**
 * ZoneIngress `availableServices` end to end, with real processes: a global and two zone agents. Each zone
 * computes its ingress's list from its own dataplanes (`kuma-multizone.md` §4.1), the global stores it, and
 * every other zone receives it for cross-zone routing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { eventually } from '@ursa/test-support/zone.js';

interface Available {
  mesh?: string;
  instances?: number;
  tags: Record<string, string>;
}
interface IngressJson {
  name: string;
  labels?: Record<string, string>;
  zone?: string;
  availableServices?: Available[];
}

const dataplane = (name: string, service: string, address: string, health?: { ready: boolean }) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: { address, inbound: [{ port: 8080, tags: { 'kuma.io/service': service }, ...(health ? { health } : {}) }] },
});
const zoneIngress = (port: number) => ({
  type: 'ZoneIngress',
  name: 'ingress',
  networking: { address: '10.0.0.1', advertisedAddress: '192.0.2.10', port, advertisedPort: port },
});
const backend = (zone: string, instances: number): Available[] => [{ mesh: 'default', instances, tags: { 'kuma.io/service': 'backend', 'kuma.io/zone': zone } }];
const sortedTags = (tags: Record<string, string>) => Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
/** The list as compared: tags in key order (jsonb does not keep it), without the defaulted `externalService`. */
const services = (i: IngressJson | undefined) => (i?.availableServices ?? []).map(({ mesh, instances, tags }) => ({ mesh, instances, tags: sortedTags(tags) }));
const sameList = (a: Available[], b: Available[]) => JSON.stringify(a) === JSON.stringify(b);

/** Polls `check` until true, within `ms`; returns how long it took. */
async function timeUntil(what: string, check: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = performance.now();
  await eventually(what, check, ms);
  return Math.round(performance.now() - t0);
}

describe('ZoneIngress availableServices, real processes', () => {
  let global: GlobalProc;
  const zones: Record<string, ZoneProc> = {};

  const localIngress = async (zone: string) => (await call(zones[zone]!.url, 'GET', '/zoneingresses/ingress')).body as IngressJson;
  const onGlobal = async (zone: string) => {
    const items = (await call(global.url, 'GET', `/zoneingresses?filter[labels.kuma.io/zone]=${zone}`)).body.items as IngressJson[];
    return items.length === 1 ? items[0] : undefined;
  };
  /** The copy of `from`'s ingress that zone `at` received from the global. */
  const remoteIn = async (at: string, from: string) => {
    const items = (await call(zones[at]!.url, 'GET', '/zoneingresses')).body.items as IngressJson[];
    return items.find((i) => i.labels?.['kuma.io/origin'] === 'global' && i.labels?.['kuma.io/zone'] === from);
  };

  beforeAll(async () => {
    global = await startGlobal();
    expect((await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBeLessThan(300);
    const transports = { 'zone-1': 'ws', 'zone-2': 'poll' } as const;
    await Promise.all(
      Object.entries(transports).map(async ([name, transport]) => {
        const token = (await call(global.url, 'POST', '/tokens/zone', { body: { zone: name, validFor: 3600 } })).body.token as string;
        zones[name] = await startZoneAgent({ name, globalUrl: global.url, token, transport });
      }),
    );
    // The mesh comes from the global: dataplanes can be registered only once it has arrived.
    for (const z of Object.keys(zones)) await eventually(`${z} has mesh default`, async () => (await call(zones[z]!.url, 'GET', '/meshes/default')).status === 200, 30_000);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(Object.values(zones).map((z) => z.stop()));
    await global?.stop();
    await removeDirs([global?.dataDir, ...Object.values(zones).map((z) => z.dataDir)].filter(Boolean) as string[]);
  });

  it('zone-1 with 2 backends and zone-2 with 1: both ingresses report the right counts on the global, and each zone gets the other\'s', async () => {
    expect((await call(zones['zone-1']!.url, 'PUT', '/zoneingresses/ingress', { body: zoneIngress(10001) })).status).toBe(201);
    expect((await call(zones['zone-2']!.url, 'PUT', '/zoneingresses/ingress', { body: zoneIngress(10002) })).status).toBe(201);
    for (const [zone, name, address] of [
      ['zone-1', 'backend-1', '10.1.0.1'],
      ['zone-1', 'backend-2', '10.1.0.2'],
      ['zone-2', 'backend-1', '10.2.0.1'],
    ] as const) {
      expect((await call(zones[zone]!.url, 'PUT', `/meshes/default/dataplanes/${name}`, { body: dataplane(name, 'backend', address) })).status).toBe(201);
    }

    // On each zone itself, then on the global (pinned to its zone), then in the other zone.
    await eventually('zone-1 ingress counts 2', async () => sameList(services(await localIngress('zone-1')), backend('zone-1', 2)), 5000);
    await eventually('zone-2 ingress counts 1', async () => sameList(services(await localIngress('zone-2')), backend('zone-2', 1)), 5000);
    await eventually('global has zone-1: 2', async () => sameList(services(await onGlobal('zone-1')), backend('zone-1', 2)), 20_000);
    await eventually('global has zone-2: 1', async () => sameList(services(await onGlobal('zone-2')), backend('zone-2', 1)), 20_000);
    expect((await onGlobal('zone-1'))!.zone).toBe('zone-1');
    expect((await onGlobal('zone-2'))!.zone).toBe('zone-2');
    await eventually('zone-2 received zone-1 ingress', async () => sameList(services(await remoteIn('zone-2', 'zone-1')), backend('zone-1', 2)), 20_000);
    await eventually('zone-1 received zone-2 ingress', async () => sameList(services(await remoteIn('zone-1', 'zone-2')), backend('zone-2', 1)), 20_000);

    // The networking part is what the zone registered; the bookkeeping only wrote the list.
    const local = (await call(zones['zone-1']!.url, 'GET', '/zoneingresses/ingress')).body;
    expect(local.networking).toMatchObject(zoneIngress(10001).networking);
    // Remote copies are left as received: the other zone's list, not this zone's.
    const remote = await remoteIn('zone-1', 'zone-2');
    expect(remote!.zone).toBe('zone-2');
  });

  it('an instance marked unhealthy drops from the count within 1 s on its zone, then everywhere', async () => {
    const t0 = performance.now();
    expect((await call(zones['zone-1']!.url, 'PUT', '/meshes/default/dataplanes/backend-2', { body: dataplane('backend-2', 'backend', '10.1.0.2', { ready: false }) })).status).toBe(200);
    const took = await timeUntil('zone-1 ingress counts 1', async () => sameList(services(await localIngress('zone-1')), backend('zone-1', 1)), 5000);
    const total = Math.round(performance.now() - t0);
    console.log(`[zone-ingress] unhealthy instance reflected on zone-1's ingress ${total} ms after the write began (${took} ms after it returned)`);
    expect(total).toBeLessThan(1000);
    await eventually('global has zone-1: 1', async () => sameList(services(await onGlobal('zone-1')), backend('zone-1', 1)), 20_000);
    await eventually('zone-2 sees zone-1: 1', async () => sameList(services(await remoteIn('zone-2', 'zone-1')), backend('zone-1', 1)), 20_000);

    // Healthy again: counted again.
    const t1 = performance.now();
    await call(zones['zone-1']!.url, 'PUT', '/meshes/default/dataplanes/backend-2', { body: dataplane('backend-2', 'backend', '10.1.0.2', { ready: true }) });
    await eventually('zone-1 ingress counts 2 again', async () => sameList(services(await localIngress('zone-1')), backend('zone-1', 2)), 5000);
    const back = Math.round(performance.now() - t1);
    console.log(`[zone-ingress] recovered instance reflected on zone-1's ingress after ${back} ms`);
    expect(back).toBeLessThan(1000);
  });

  it('deleting dataplanes updates the count, down to an empty list', async () => {
    const t0 = performance.now();
    expect((await call(zones['zone-2']!.url, 'DELETE', '/meshes/default/dataplanes/backend-1')).status).toBe(200);
    await eventually('zone-2 ingress empty', async () => services(await localIngress('zone-2')).length === 0, 5000);
    const took = Math.round(performance.now() - t0);
    console.log(`[zone-ingress] deletion reflected on zone-2's ingress after ${took} ms`);
    expect(took).toBeLessThan(1000);
    await eventually('global has zone-2: empty', async () => {
      const i = await onGlobal('zone-2');
      return i !== undefined && services(i).length === 0;
    }, 20_000);
    await eventually('zone-1 sees zone-2: empty', async () => {
      const i = await remoteIn('zone-1', 'zone-2');
      return i !== undefined && services(i).length === 0;
    }, 20_000);

    expect((await call(zones['zone-1']!.url, 'DELETE', '/meshes/default/dataplanes/backend-1')).status).toBe(200);
    await eventually('zone-1 ingress counts 1', async () => sameList(services(await localIngress('zone-1')), backend('zone-1', 1)), 5000);
    await eventually('zone-2 sees zone-1: 1', async () => sameList(services(await remoteIn('zone-2', 'zone-1')), backend('zone-1', 1)), 20_000);
  });
});
