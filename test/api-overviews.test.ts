/**
 * Overviews (objects merged with their insights) and `/global-insight`, over a real socket and a real
 * database. Zones are created through the API; what zones would send over KDS (insights, dataplanes,
 * zone proxies) is written through the store, as the global refuses it over REST. Zone liveness is the KDS
 * lease (`zone_sessions`), taken and ended through the KDS store as sessions do; ZoneInsight subscriptions
 * are only the recorded history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zoneInsightAsOfLease } from '@ursa/core';
import { backends } from '@ursa/test-support/backends.js';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';

const T0 = '2024-05-01T10:00:00Z';
const T1 = '2024-05-01T11:00:00Z';
const connected = (id = 's1') => ({ id, globalInstanceId: 'global-1', zoneInstanceId: 'zone-1', connectTime: T0 });
const disconnected = (id = 's0') => ({ ...connected(id), disconnectTime: T1 });
const dpSub = (online: boolean) => ({ id: 'x1', controlPlaneInstanceId: 'cp-1', connectTime: T0, ...(online ? {} : { disconnectTime: T1 }) });

const inbound = (port: number, service: string, ready?: boolean) => ({
  port,
  tags: { 'kuma.io/service': service },
  ...(ready === undefined ? {} : { health: { ready } }),
});
const dataplane = (name: string, networking: Record<string, unknown>, labels: Record<string, string> = {}) => ({
  kind: 'Dataplane',
  mesh: 'm1',
  name,
  labels,
  spec: { networking: { address: '10.0.0.1', ...networking } },
});
const dpInsight = (name: string, online: boolean, mesh = 'm1') => ({
  kind: 'DataplaneInsight',
  mesh,
  name,
  spec: { subscriptions: [dpSub(online)], mTLS: { issuedBackend: 'ca-1' } },
});

const path = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};
const names = (body: { items: { name: string }[] }) => body.items.map((i) => i.name);
const LEASE = { globalInstanceId: 'global-1', ttlMs: 60_000 };

for (const backend of backends()) {
  describe(`overviews and global insight on ${backend.name}`, () => {
    let api: ApiServer;
    const put = async (p: string, body: unknown) => {
      const r = await call(api.url, 'PUT', p, { body });
      expect(r.status, `PUT ${p}: ${JSON.stringify(r.body)}`).toBe(201);
    };

    beforeAll(async () => {
      api = await startApi(backend);
      const store = api.resources;
      const kds = api.stores.kds;
      // Zones through the API: z1 (enabled by default), z2 (enabled), z3 (disabled), z4 (never connected).
      // z1, z2 and z3 hold live leases (z3 connected before it was disabled); each insight records the session.
      await put('/zones/z1', { type: 'Zone', name: 'z1' });
      await put('/zones/z2', { type: 'Zone', name: 'z2', enabled: true });
      await put('/zones/z3', { type: 'Zone', name: 'z3', enabled: false });
      await put('/zones/z4', { type: 'Zone', name: 'z4' });
      await store.create('default', { kind: 'ZoneInsight', name: 'z1', spec: { subscriptions: [disconnected('s0'), connected('s1')] } });
      await store.create('default', { kind: 'ZoneInsight', name: 'z2', spec: { subscriptions: [connected()] } });
      await store.create('default', { kind: 'ZoneInsight', name: 'z3', spec: { subscriptions: [connected()] } });
      for (const zone of ['z1', 'z2', 'z3']) await kds.openSession('default', zone, { sessionId: 's1', ...LEASE });

      await store.create('default', { kind: 'ZoneIngress', name: 'zi-1', labels: { 'kuma.io/zone': 'z1' }, spec: { zone: 'z1', networking: { address: '10.1.0.1', port: 10001 } } });
      await store.create('default', { kind: 'ZoneIngressInsight', name: 'zi-1', spec: { subscriptions: [dpSub(true)] } });
      await store.create('default', { kind: 'ZoneIngress', name: 'zi-2', spec: { zone: 'z2', networking: { address: '10.1.0.2', port: 10001 } } });
      await store.create('default', { kind: 'ZoneEgress', name: 'ze-1', spec: { zone: 'z1', networking: { address: '10.2.0.1', port: 10002 } } });
      await store.create('default', { kind: 'ZoneEgressInsight', name: 'ze-1', spec: { subscriptions: [dpSub(false)] } });

      await put('/meshes/m1', { type: 'Mesh', name: 'm1', skipCreatingInitialPolicies: ['*'] });
      await put('/meshes/m1/meshtimeouts/t1', {
        type: 'MeshTimeout',
        mesh: 'm1',
        name: 't1',
        spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1m' } }] },
      });
      // Standard dataplanes: online; partially degraded (one of two inbounds not ready); offline (disconnected).
      await store.create('default', dataplane('api-1', { inbound: [inbound(8080, 'api')] }));
      await store.create('default', dataplane('web-1', { inbound: [inbound(8080, 'web', true)] }, { 'kuma.io/zone': 'z1' }));
      await store.create('default', dataplane('web-2', { inbound: [inbound(8080, 'web'), inbound(8081, 'metrics', false)] }));
      await store.create('default', dataplane('web-3', { inbound: [inbound(8080, 'web')] }));
      // Gateways: builtin online, delegated (default type) without an insight.
      await store.create('default', dataplane('gw-1', { gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'edge-builtin' } } }));
      await store.create('default', dataplane('gw-2', { gateway: { tags: { 'kuma.io/service': 'edge' } } }));
      for (const [name, online] of [['api-1', true], ['web-1', true], ['web-2', true], ['web-3', false], ['gw-1', true]] as const) {
        await store.create('default', dpInsight(name, online));
      }

      // Another tenant: same names, different state. None of it may show up for the default tenant.
      await store.create('other', { kind: 'Zone', name: 'z4', spec: {} });
      await store.create('other', { kind: 'Zone', name: 'zz-other', spec: {} });
      await store.create('other', { kind: 'ZoneInsight', name: 'z4', spec: { subscriptions: [connected()] } });
      await store.create('other', { kind: 'ZoneInsight', name: 'zz-other', spec: { subscriptions: [connected()] } });
      // The other tenant's z4 holds a live lease: it must not make the default tenant's z4 online.
      await kds.openSession('other', 'z4', { sessionId: 's1', ...LEASE });
      await kds.openSession('other', 'zz-other', { sessionId: 's1', ...LEASE });
      await store.create('other', { kind: 'ZoneIngress', name: 'zi-2', spec: { networking: { address: '10.9.0.2', port: 10001 } } });
      await store.create('other', { kind: 'ZoneIngressInsight', name: 'zi-2', spec: { subscriptions: [dpSub(true)] } });
      await store.create('other', { kind: 'Mesh', name: 'm1', spec: {} });
      await store.create('other', { ...dataplane('gw-2', { gateway: { tags: { 'kuma.io/service': 'edge' } } }) });
      await store.create('other', dpInsight('gw-2', true));
      await store.create('other', dpInsight('web-3', true));
      await store.create('other', dataplane('other-dp', { inbound: [inbound(8080, 'other-svc')] }));
      await store.create('other', dpInsight('other-dp', true));
    });
    afterAll(async () => api?.close());

    it('lists zone overviews: the zone and its insight under Kuma field names', async () => {
      const r = await call(api.url, 'GET', '/zones/_overview');
      expect(r.status).toBe(200);
      expect(r.body.total).toBe(4);
      expect(r.body.next).toBeNull();
      expect(names(r.body)).toEqual(['z1', 'z2', 'z3', 'z4']);
      const [z1, z2, , z4] = r.body.items;
      expect(z1).toEqual({
        type: 'ZoneOverview',
        name: 'z1',
        creationTime: expect.any(String),
        modificationTime: expect.any(String),
        zone: {},
        zoneInsight: { subscriptions: [disconnected('s0'), connected('s1')] },
      });
      expect(Object.keys(z1)).toEqual(['type', 'name', 'creationTime', 'modificationTime', 'zone', 'zoneInsight']);
      expect(z2.zone).toEqual({ enabled: true });
      expect(z2.zoneInsight).toEqual({ subscriptions: [connected()] });
      // Never connected: the other tenant's online insight of the same name is not joined in.
      expect(z4.zoneInsight).toEqual({});
      expect((await call(api.url, 'GET', '/zones+insights')).body.items).toEqual(r.body.items);
    });

    it('serves single overviews under every path, and 404 with Kuma error body when missing', async () => {
      const one = await call(api.url, 'GET', '/zones/z2/_overview');
      expect(one.status).toBe(200);
      expect(one.body).toMatchObject({ type: 'ZoneOverview', name: 'z2', zone: { enabled: true }, zoneInsight: { subscriptions: [connected()] } });
      for (const p of ['/zones/_overview/z2', '/zones+insights/z2']) {
        const r = await call(api.url, 'GET', p);
        expect(r.status, p).toBe(200);
        expect(r.body, p).toEqual(one.body);
      }
      for (const p of ['/zones/nope/_overview', '/zones/_overview/nope', '/zones+insights/nope', '/zones/zz-other/_overview', '/meshes/m1/dataplanes/other-dp/_overview']) {
        const r = await call(api.url, 'GET', p);
        expect(r.status, p).toBe(404);
        expect(r.body, p).toMatchObject({ type: '/std-errors', status: 404, title: 'Could not retrieve a resource', detail: 'Not found' });
      }
    });

    it('paginates overview lists with next links', async () => {
      const first = await call(api.url, 'GET', '/zones/_overview?size=3');
      expect(first.body.total).toBe(4);
      expect(names(first.body)).toEqual(['z1', 'z2', 'z3']);
      expect(first.body.next).toMatch(/offset=3/);
      const second = await call(api.url, 'GET', path(first.body.next));
      expect(names(second.body)).toEqual(['z4']);
      expect(second.body.items[0].zoneInsight).toEqual({});
      expect(second.body.next).toBeNull();
      expect(names((await call(api.url, 'GET', '/zones/_overview?name=z2')).body)).toEqual(['z2']);
      expect((await call(api.url, 'GET', '/zones/_overview?size=0')).status).toBe(400);
    });

    it('merges dataplanes with their insights, by mesh, with filters', async () => {
      const r = await call(api.url, 'GET', '/meshes/m1/dataplanes/_overview');
      expect(r.status).toBe(200);
      expect(names(r.body)).toEqual(['api-1', 'gw-1', 'gw-2', 'web-1', 'web-2', 'web-3']);
      const web1 = r.body.items.find((i: { name: string }) => i.name === 'web-1');
      expect(web1).toEqual({
        type: 'DataplaneOverview',
        mesh: 'm1',
        name: 'web-1',
        creationTime: expect.any(String),
        modificationTime: expect.any(String),
        labels: { 'kuma.io/zone': 'z1' },
        dataplane: { networking: { address: '10.0.0.1', inbound: [inbound(8080, 'web', true)] } },
        dataplaneInsight: { subscriptions: [dpSub(true)], mTLS: { issuedBackend: 'ca-1' } },
      });
      expect(Object.keys(web1)).toEqual(['type', 'mesh', 'name', 'creationTime', 'modificationTime', 'labels', 'dataplane', 'dataplaneInsight']);
      // The other tenant has an online insight named gw-2 in mesh m1; ours has none.
      expect(r.body.items.find((i: { name: string }) => i.name === 'gw-2').dataplaneInsight).toEqual({});
      expect(r.body.items.find((i: { name: string }) => i.name === 'web-3').dataplaneInsight.subscriptions[0].disconnectTime).toBe(T1);

      for (const p of ['/meshes/m1/dataplanes/web-1/_overview', '/meshes/m1/dataplanes/_overview/web-1', '/meshes/m1/dataplanes+insights/web-1']) {
        const one = await call(api.url, 'GET', p);
        expect(one.status, p).toBe(200);
        expect(one.body, p).toEqual(web1);
      }
      expect((await call(api.url, 'GET', '/meshes/m1/dataplanes+insights')).body.items).toEqual(r.body.items);
      expect((await call(api.url, 'GET', '/dataplanes/_overview')).body.total).toBe(6);
      expect((await call(api.url, 'GET', '/dataplanes+insights')).body.total).toBe(6);
      expect((await call(api.url, 'GET', '/meshes/other/dataplanes/_overview')).body).toEqual({ total: 0, items: [], next: null });

      expect(names((await call(api.url, 'GET', '/meshes/m1/dataplanes/_overview?tag=kuma.io/service:web')).body)).toEqual(['web-1', 'web-2', 'web-3']);
      expect(names((await call(api.url, 'GET', '/meshes/m1/dataplanes/_overview?tag=kuma.io/service:edge')).body)).toEqual(['gw-1', 'gw-2']);
      expect(names((await call(api.url, 'GET', '/meshes/m1/dataplanes/_overview?filter[labels.kuma.io/zone]=z1')).body)).toEqual(['web-1']);
      const paged = await call(api.url, 'GET', '/meshes/m1/dataplanes/_overview?size=2&offset=2');
      expect(names(paged.body)).toEqual(['gw-2', 'web-1']);
      expect(paged.body.items[1].dataplaneInsight).toEqual(web1.dataplaneInsight);
      expect(path(paged.body.next)).toBe('/meshes/m1/dataplanes/_overview?offset=4&size=2');
      const gw = await call(api.url, 'GET', '/meshes/m1/dataplanes/_overview?gateway=true');
      expect(gw.status).toBe(400);
      expect(gw.body.invalid_parameters).toEqual([{ field: 'gateway', reason: 'not supported yet', source: 'query' }]);
    });

    it('serves zone ingress and zone egress overviews under Kuma legacy paths', async () => {
      const zi = await call(api.url, 'GET', '/zoneingresses+insights');
      expect(zi.status).toBe(200);
      expect(zi.body.total).toBe(2);
      expect(zi.body.items[0]).toEqual({
        type: 'ZoneIngressOverview',
        name: 'zi-1',
        creationTime: expect.any(String),
        modificationTime: expect.any(String),
        labels: { 'kuma.io/zone': 'z1' },
        zoneIngress: { zone: 'z1', networking: { address: '10.1.0.1', port: 10001 } },
        zoneIngressInsight: { subscriptions: [dpSub(true)] },
      });
      expect(zi.body.items[1]).toMatchObject({ name: 'zi-2', zoneIngress: { zone: 'z2' }, zoneIngressInsight: {} });
      expect((await call(api.url, 'GET', '/zoneingresses/_overview')).body.items).toEqual(zi.body.items);
      expect((await call(api.url, 'GET', '/zone-ingresses/_overview')).body.items).toEqual(zi.body.items);
      expect((await call(api.url, 'GET', '/zoneingresses/zi-1/_overview')).body).toEqual(zi.body.items[0]);

      const ze = await call(api.url, 'GET', '/zoneegressoverviews');
      expect(ze.status).toBe(200);
      expect(ze.body.items).toEqual([
        {
          type: 'ZoneEgressOverview',
          name: 'ze-1',
          creationTime: expect.any(String),
          modificationTime: expect.any(String),
          zoneEgress: { zone: 'z1', networking: { address: '10.2.0.1', port: 10002 } },
          zoneEgressInsight: { subscriptions: [dpSub(false)] },
        },
      ]);
      expect((await call(api.url, 'GET', '/zoneegressoverviews/ze-1')).body).toEqual(ze.body.items[0]);
      expect((await call(api.url, 'GET', '/zoneegresses/ze-1/_overview')).body).toEqual(ze.body.items[0]);
      expect((await call(api.url, 'GET', '/zoneegressoverviews/nope')).status).toBe(404);
    });

    it('/global-insight counts the tenant with Kuma online rules; a zone is online by its lease', async () => {
      const kds = api.stores.kds;
      const controlPlanes = async () => (await call(api.url, 'GET', '/global-insight')).body.zones.controlPlanes;
      const overview = async (zone: string) => {
        const one = await call(api.url, 'GET', `/zones/${zone}/_overview`);
        expect(one.status).toBe(200);
        const listed = (await call(api.url, 'GET', '/zones/_overview')).body.items.find((i: { name: string }) => i.name === zone);
        expect(listed).toEqual(one.body);
        expect((await call(api.url, 'GET', `/zones+insights/${zone}`)).body).toEqual(one.body);
        return one.body;
      };
      const rawInsight = async (zone: string) => {
        const r = await call(api.url, 'GET', `/zone-insights/${zone}`);
        expect(r.status).toBe(200);
        return r.body.subscriptions;
      };

      const r = await call(api.url, 'GET', '/global-insight');
      expect(r.status).toBe(200);
      expect(Date.parse(r.body.createdAt)).not.toBeNaN();
      expect(r.body).toMatchObject({
        // z1, z2 hold live leases; z3 holds one but is disabled; z4 never connected. The other tenant's
        // leases (one for a zone named z4) and insights do not count.
        zones: { controlPlanes: { online: 2, total: 4 }, zoneIngresses: { online: 1, total: 2 }, zoneEgresses: { online: 0, total: 1 } },
        dataplanes: {
          standard: { total: 4, online: 2, offline: 1, partiallyDegraded: 1 },
          gatewayBuiltin: { total: 1, online: 1, offline: 0, partiallyDegraded: 0 },
          gatewayDelegated: { total: 1, online: 0, offline: 1, partiallyDegraded: 0 },
        },
        services: {
          // api: online; web: one of three instances online; metrics: only on the degraded web-2.
          total: 5,
          internal: { total: 3, online: 1, offline: 1, partiallyDegraded: 1 },
          external: { total: 0 },
          gatewayBuiltin: { total: 1, online: 1, offline: 0, partiallyDegraded: 0 },
          gatewayDelegated: { total: 1, online: 0, offline: 1, partiallyDegraded: 0 },
        },
        policies: { total: 1 },
        meshes: { total: 1 },
      });
      expect(r.body.resources).toMatchObject({ Zone: { total: 4 }, ZoneInsight: { total: 3 }, Dataplane: { total: 6 }, MeshTimeout: { total: 1 }, MeshRetry: { total: 0 } });
      expect(Object.keys(r.body).sort()).toEqual(['createdAt', 'dataplanes', 'meshes', 'policies', 'resources', 'revision', 'services', 'zones']);
      // Ursa's: the tenant's change-feed revision, what zones' applied revisions are compared with.
      expect(r.body.revision).toBe(await api.resources.currentRevision('default'));

      // Dataplanes stay insight-based: api-1 disconnects.
      await api.resources.update('default', dpInsight('api-1', false));
      let after = (await call(api.url, 'GET', '/global-insight')).body;
      expect(after.zones.controlPlanes).toEqual({ online: 2, total: 4 });
      expect(after.dataplanes.standard).toEqual({ total: 4, online: 1, offline: 2, partiallyDegraded: 1 });
      expect(after.services.internal).toEqual({ total: 3, online: 0, offline: 2, partiallyDegraded: 1 });

      // A disabled zone with a live lease counts offline: z3 from the start, z2 once disabled. Its overview
      // is left as recorded (the lease is live); `enabled: false` is what makes kumactl show it Offline.
      expect(await overview('z3')).toMatchObject({ zone: { enabled: false }, zoneInsight: { subscriptions: [connected()] } });
      expect((await call(api.url, 'PUT', '/zones/z2', { body: { type: 'Zone', name: 'z2', enabled: false } })).status).toBe(200);
      expect(await controlPlanes()).toEqual({ online: 1, total: 4 });
      expect((await call(api.url, 'PUT', '/zones/z2', { body: { type: 'Zone', name: 'z2' } })).status).toBe(200);
      expect(await controlPlanes()).toEqual({ online: 2, total: 4 });
      // Enabling z3 shows it was only the flag: its lease makes it online at once.
      expect((await call(api.url, 'PUT', '/zones/z3', { body: { type: 'Zone', name: 'z3', enabled: true } })).status).toBe(200);
      expect(await controlPlanes()).toEqual({ online: 3, total: 4 });
      expect((await call(api.url, 'PUT', '/zones/z3', { body: { type: 'Zone', name: 'z3', enabled: false } })).status).toBe(200);
      expect(await controlPlanes()).toEqual({ online: 2, total: 4 });

      // A clean disconnect ends z1's lease at once. Its recorded subscription s1 is still open, yet z1 counts
      // offline, and its overview shows s1 closed at the lease's end; the stored insight is untouched.
      await kds.closeSession('default', 'z1', 's1');
      const closedAt = (await kds.session('default', 'z1'))?.leaseExpiresAt?.toISOString();
      expect(closedAt).toEqual(expect.any(String));
      expect(await controlPlanes()).toEqual({ online: 1, total: 4 });
      expect((await overview('z1')).zoneInsight).toEqual({ subscriptions: [disconnected('s0'), { ...connected('s1'), disconnectTime: closedAt }] });
      expect(await rawInsight('z1')).toEqual([disconnected('s0'), connected('s1')]);

      // z2's replica dies: nobody closes anything, the lease just runs out.
      expect(await kds.renew('default', 'z2', 's1', 1_000)).toBe(true);
      const expiresAt = (await kds.session('default', 'z2'))?.leaseExpiresAt;
      expect(expiresAt).toBeInstanceOf(Date);
      await expect.poll(controlPlanes, { timeout: 15_000, interval: 100 }).toEqual({ online: 0, total: 4 });
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAt!.getTime());
      const z2 = await overview('z2');
      expect(z2.zone).toEqual({});
      expect(z2.zoneInsight).toEqual({ subscriptions: [{ ...connected(), disconnectTime: expiresAt!.toISOString() }] });
      expect(await rawInsight('z2')).toEqual([connected()]);
      // The other tenant's zones keep their leases all along.
      expect(await kds.isOnline('other', 'z4')).toBe(true);

      // A new session for z1 (a new lease, recorded by the registry) brings it online again; its overview is
      // the record as stored.
      await kds.openSession('default', 'z1', { sessionId: 's2', ...LEASE });
      const history = [disconnected('s0'), disconnected('s1'), connected('s2')];
      await api.resources.update('default', { kind: 'ZoneInsight', name: 'z1', spec: { subscriptions: history } });
      expect(await controlPlanes()).toEqual({ online: 1, total: 4 });
      expect((await overview('z1')).zoneInsight).toEqual({ subscriptions: history });
    });
  });
}

describe('zoneInsightAsOfLease', () => {
  const now = new Date('2024-05-01T12:00:00.000Z');
  const open = (id: string, connectTime: string, extra: Record<string, unknown> = {}) => ({ id, connectTime, ...extra });
  const spec = { subscriptions: [open('a', T0, { disconnectTime: T1 }), open('b', T1)], other: 'kept' };

  it('leaves the spec as it is while the lease is live', () => {
    const live = { leaseExpiresAt: new Date(now.getTime() + 1) };
    expect(zoneInsightAsOfLease(spec, live, now)).toBe(spec);
  });

  it('closes the newest open subscription at the lease expiry once the lease is over', () => {
    const expired = { leaseExpiresAt: new Date('2024-05-01T11:30:00.000Z') };
    expect(zoneInsightAsOfLease(spec, expired, now)).toEqual({
      subscriptions: [open('a', T0, { disconnectTime: T1 }), open('b', T1, { disconnectTime: '2024-05-01T11:30:00.000Z' })],
      other: 'kept',
    });
    // A lease that ends exactly now is over.
    expect(zoneInsightAsOfLease(spec, { leaseExpiresAt: now }, now).subscriptions).toEqual([
      open('a', T0, { disconnectTime: T1 }),
      open('b', T1, { disconnectTime: now.toISOString() }),
    ]);
    expect(spec.subscriptions[1]).toEqual(open('b', T1));
  });

  it('without a lease, dates the close by the last known activity; closes older open ones at their successor', () => {
    const status = { lastUpdateTime: '2024-05-01T11:10:00Z' };
    const subs = { subscriptions: [open('a', T0), open('b', T1, { status })] };
    const closed = [open('a', T0, { disconnectTime: '2024-05-01T11:00:00.000Z' }), open('b', T1, { status, disconnectTime: '2024-05-01T11:10:00.000Z' })];
    expect(zoneInsightAsOfLease(subs, undefined, now)).toEqual({ subscriptions: closed });
    expect(zoneInsightAsOfLease(subs, { leaseExpiresAt: null }, now)).toEqual({ subscriptions: closed });
    expect(zoneInsightAsOfLease({ subscriptions: [open('c', T1)] }, undefined, now)).toEqual({
      subscriptions: [open('c', T1, { disconnectTime: '2024-05-01T11:00:00.000Z' })],
    });
  });

  it('never closes a subscription before it connected, and leaves specs without open subscriptions alone', () => {
    const early = { leaseExpiresAt: new Date('2024-05-01T10:30:00.000Z') };
    expect(zoneInsightAsOfLease({ subscriptions: [open('b', T1)] }, early, now)).toEqual({
      subscriptions: [open('b', T1, { disconnectTime: '2024-05-01T11:00:00.000Z' })],
    });
    const none = { subscriptions: [open('a', T0, { disconnectTime: T1 })] };
    expect(zoneInsightAsOfLease(none, undefined, now)).toBe(none);
    const empty = {};
    expect(zoneInsightAsOfLease(empty, undefined, now)).toBe(empty);
  });
});
