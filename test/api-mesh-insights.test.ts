/**
 * Kuma's computed insights, exactly: dataplanes written to the store as zones sync them (with their
 * DataplaneInsights: online, offline, one inbound not ready), served over a real socket on each backend.
 * - `/mesh-insights/{mesh}`: dataplanes by type and status, kuma-dp / Envoy versions, mTLS backends,
 *   policies and resources per kind, services;
 * - `/meshes/{mesh}/service-insights[/{name}]`, `/service-insights`: status online / partially_degraded /
 *   offline per `kuma.io/service`, instances, zones, `addressPort`, the `name` and `type` filters, paging;
 * - a mesh that does not exist is a 404; a bad `type` a 400 naming it;
 * - types Ursa does not model list empty; `/who-am-i`;
 * - a dataplane's `_layout` (Kuma's schema), only in a mesh with `meshServices.mode: Exclusive`, as Kuma;
 * - CORS (`corsOrigins`): a configured origin gets its preflight answered and CORS headers, another none,
 *   and without the option no CORS header at all.
 * Each response is checked against Ursa's `/openapi.json` (Kuma's 2.14.3 document has no schema for them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';
import { meshTimeoutBody } from '@ursa/test-support/fixtures.js';
import { loadKumaOpenApi, openApiValidators, problems, type OpenApiValidators } from '@ursa/test-support/kuma-openapi.js';

const kuma = loadKumaOpenApi();

const sub = (online: boolean, kumaDp = '2.14.3', envoy = '1.34.1') => ({
  id: `s-${Math.random()}`,
  controlPlaneInstanceId: 'zone-cp',
  connectTime: '2026-01-01T00:00:00Z',
  ...(online ? {} : { disconnectTime: '2026-01-01T01:00:00Z' }),
  status: {},
  version: { kumaDp: { version: kumaDp }, envoy: { version: envoy } },
});

const inbound = (port: number, service: string, zone: string, ready = true) => ({ port, tags: { 'kuma.io/service': service, 'kuma.io/zone': zone }, health: { ready } });

describe.each(backends().map((b) => [b.name, b] as const))('mesh and service insights on %s', (_name, backend) => {
  let api: ApiServer;
  let ours: OpenApiValidators;

  beforeAll(async () => {
    api = await startApi(backend);
    ours = openApiValidators((await call(api.url, 'GET', '/openapi.json')).body, 'ursa-openapi.json');
    for (const m of ['shop', 'empty']) expect((await call(api.url, 'PUT', `/meshes/${m}`, { body: { type: 'Mesh', name: m } })).status).toBe(201);
    expect((await call(api.url, 'PUT', '/meshes/shop/meshtimeouts/t1', { body: meshTimeoutBody('t1', '5s', 'shop') })).status).toBe(201);
    const dp = async (name: string, networking: Record<string, unknown>, insight?: Record<string, unknown>) => {
      await api.resources.create('default', { kind: 'Dataplane', mesh: 'shop', name, labels: {}, spec: { networking: { address: '10.0.0.1', ...networking } } });
      if (insight) await api.resources.create('default', { kind: 'DataplaneInsight', mesh: 'shop', name, labels: {}, spec: insight });
    };
    // web: 2 online (one in each zone), 1 offline -> partially degraded. api: its dataplane online but the
    // inbound not ready -> the dataplane is offline (its only inbound), the service offline.
    // cart: online. gw: a builtin gateway, online. Versions: 3 on 2.14.3, 1 on 2.13.0 (online ones), mTLS
    // issued by ca-1 for two of them.
    await dp('web-1', { inbound: [inbound(8080, 'web', 'east')] }, { subscriptions: [sub(true)], mTLS: { issuedBackend: 'ca-1', supportedBackends: ['ca-1', 'ca-2'] } });
    await dp('web-2', { inbound: [inbound(8080, 'web', 'west')] }, { subscriptions: [sub(false), sub(true, '2.13.0')], mTLS: { issuedBackend: 'ca-1', supportedBackends: ['ca-1'] } });
    await dp('web-3', { inbound: [inbound(8080, 'web', 'west')] }, { subscriptions: [sub(false)] });
    await dp('api-1', { inbound: [inbound(9090, 'api', 'east', false)] }, { subscriptions: [sub(true)] });
    await dp('mixed-1', { inbound: [inbound(7070, 'cart', 'east'), inbound(7071, 'cart-admin', 'east', false)] }, { subscriptions: [sub(true)] });
    await dp('gw-1', { gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'edge' } } }, { subscriptions: [sub(true)] });
  }, 60_000);
  afterAll(async () => api?.close());

  it('/mesh-insights/{mesh}: dataplanes by type and status, versions, mTLS, policies, services', async () => {
    const r = await call(api.url, 'GET', '/mesh-insights/shop');
    expect(r.status).toBe(200);
    expect(problems(ours.schema('MeshInsight'), r.body)).toBe('');
    const b = r.body;
    expect(b).toMatchObject({ type: 'MeshInsight', name: 'shop' });
    expect(b.dataplanesByType.standard).toEqual({ total: 5, online: 2, offline: 2, partiallyDegraded: 1 });
    expect(b.dataplanesByType.gatewayBuiltin).toEqual({ total: 1, online: 1, offline: 0, partiallyDegraded: 0 });
    expect(b.dataplanesByType.gateway).toEqual({ total: 1, online: 1, offline: 0, partiallyDegraded: 0 });
    expect(b.dataplanes).toEqual({ total: 6, online: 3, offline: 2, partiallyDegraded: 1 });
    expect(b.dpVersions.kumaDp['2.13.0']).toEqual({ total: 1, online: 1, offline: 0, partiallyDegraded: 0 });
    expect(b.dpVersions.kumaDp['2.14.3'].total).toBe(5);
    expect(b.mTLS.issuedBackends).toEqual({ 'ca-1': { total: 2, online: 2, offline: 0, partiallyDegraded: 0 } });
    expect(b.mTLS.supportedBackends['ca-1'].total).toBe(2);
    expect(b.mTLS.supportedBackends['ca-2'].total).toBe(1);
    // Kuma's default policies come with the mesh; t1 adds a MeshTimeout. Kinds without objects are left out.
    for (const [kind, path] of [['MeshTimeout', 'meshtimeouts'], ['MeshRetry', 'meshretries']]) {
      expect(b.policies[kind!], kind).toEqual({ total: (await call(api.url, 'GET', `/meshes/shop/${path}`)).body.total });
    }
    expect(b.policies.MeshTimeout.total).toBeGreaterThanOrEqual(1);
    expect(b.policies.MeshTrafficPermission).toBeUndefined();
    expect(b.resources.Dataplane).toEqual({ total: 6 });
    expect(b.resources.MeshTrafficPermission).toEqual({ total: 0 });
    expect(b.services).toEqual({ total: 5, internal: 5, external: 0 });

    const empty = (await call(api.url, 'GET', '/mesh-insights/empty')).body;
    expect(empty.dataplanes).toEqual({ total: 0, online: 0, offline: 0, partiallyDegraded: 0 });
    expect(empty.services).toEqual({ total: 0, internal: 0, external: 0 });
    expect((await call(api.url, 'GET', '/mesh-insights/nope')).status).toBe(404);
  });

  it('/mesh-insights lists every mesh, paged like Kuma', async () => {
    const all = await call(api.url, 'GET', '/mesh-insights');
    expect(all.status).toBe(200);
    expect(problems(ours.schema('MeshInsightList'), all.body)).toBe('');
    expect(all.body.items.map((i: { name: string }) => i.name).sort()).toEqual(['empty', 'shop']);
    const first = await call(api.url, 'GET', '/mesh-insights?size=1');
    expect(first.body.total).toBe(2);
    expect(first.body.items).toHaveLength(1);
    expect(first.body.next).toMatch(/\/mesh-insights\?.*offset=1/);
  });

  it('service insights: status per kuma.io/service, instances, zones, address; filters and paging', async () => {
    const r = await call(api.url, 'GET', '/meshes/shop/service-insights');
    expect(r.status).toBe(200);
    expect(problems(ours.schema('ServiceInsightList'), r.body)).toBe('');
    const by = Object.fromEntries(r.body.items.map((i: { name: string }) => [i.name, i]));
    expect(Object.keys(by)).toEqual(['api', 'cart', 'cart-admin', 'edge', 'web']);
    expect(by.web).toMatchObject({ type: 'ServiceInsight', mesh: 'shop', status: 'partially_degraded', dataplanes: { total: 3, online: 2, offline: 1 }, addressPort: 'web.mesh:80', zones: ['east', 'west'] });
    expect(by.web.serviceType).toBeUndefined(); // internal: Kuma's default, left out as Kuma does
    expect(by.api).toMatchObject({ status: 'offline', dataplanes: { total: 1, online: 0, offline: 1 } });
    // mixed-1 is partially degraded (one inbound not ready): Kuma counts it as an offline instance of both.
    expect(by.cart).toMatchObject({ status: 'offline', dataplanes: { total: 1, online: 0, offline: 1 } });
    expect(by.edge).toMatchObject({ status: 'online', serviceType: 'gateway_builtin', dataplanes: { total: 1, online: 1, offline: 0 } });
    expect(by.edge.addressPort).toBeUndefined();

    const one = await call(api.url, 'GET', '/meshes/shop/service-insights/web');
    expect(one.status).toBe(200);
    expect(problems(ours.schema('ServiceInsight'), one.body)).toBe('');
    expect(one.body).toEqual(by.web);
    // Kuma answers a service it has no numbers for with empty numbers.
    const unknown = await call(api.url, 'GET', '/meshes/shop/service-insights/ghost');
    expect(unknown.body).toMatchObject({ name: 'ghost', dataplanes: { total: 0, online: 0, offline: 0 }, addressPort: 'ghost.mesh:80' });
    expect(unknown.body.status).toBeUndefined();

    expect((await call(api.url, 'GET', '/meshes/shop/service-insights?name=car')).body.items.map((i: { name: string }) => i.name)).toEqual(['cart', 'cart-admin']);
    expect((await call(api.url, 'GET', '/meshes/shop/service-insights?type=gateway_builtin')).body.items.map((i: { name: string }) => i.name)).toEqual(['edge']);
    const paged = (await call(api.url, 'GET', '/meshes/shop/service-insights?size=2&offset=2')).body;
    expect(paged.total).toBe(5);
    expect(paged.items.map((i: { name: string }) => i.name)).toEqual(['cart-admin', 'edge']);
    expect(paged.next).toMatch(/offset=4/);
    const bad = await call(api.url, 'GET', '/meshes/shop/service-insights?type=internal,bogus');
    expect(bad.status).toBe(400);
    expect(bad.body.invalid_parameters[0].field).toBe('type');
    expect((await call(api.url, 'GET', '/meshes/nope/service-insights')).status).toBe(404);

    const all = await call(api.url, 'GET', '/service-insights');
    expect(all.body.total).toBe(5);
    expect(problems(ours.schema('ServiceInsightList'), all.body)).toBe('');
  });

  it("a dataplane's _layout: inbounds and listeners with their KRIs, in a MeshService-exclusive mesh only", async () => {
    expect((await call(api.url, 'PUT', '/meshes/excl', { body: { type: 'Mesh', name: 'excl', meshServices: { mode: 'Exclusive' } } })).status).toBe(201);
    await api.resources.create('default', {
      kind: 'Dataplane',
      mesh: 'excl',
      name: 'app-1',
      labels: { 'kuma.io/zone': 'east' },
      spec: { networking: { address: '10.0.0.9', inbound: [{ port: 8080, name: 'http', tags: { 'kuma.io/service': 'app', 'kuma.io/protocol': 'http' } }, { port: 9090, protocol: 'grpc', tags: { 'kuma.io/service': 'app-grpc' } }] } },
    });
    const r = await call(api.url, 'GET', '/meshes/excl/dataplanes/app-1/_layout');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(problems(kuma.response('DataplaneNetworkingLayoutResponse'), r.body)).toBe('');
    expect(r.body).toEqual({
      kri: 'kri_dp_excl_east__app-1_',
      labels: { 'kuma.io/zone': 'east' },
      inbounds: [
        { kri: 'kri_dp_excl_east__app-1_http', port: 8080, protocol: 'http', proxyResourceName: 'self_inbound_dp_http' },
        { kri: 'kri_dp_excl_east__app-1_9090', port: 9090, protocol: 'grpc', proxyResourceName: 'self_inbound_dp_9090' },
      ],
      outbounds: [],
      listeners: [],
    });
    const notExclusive = await call(api.url, 'GET', '/meshes/shop/dataplanes/web-1/_layout');
    expect(notExclusive.status).toBe(400);
    expect(notExclusive.body.detail).toBe("bad request: can't use _layout endpoint without meshService enabled");
    expect((await call(api.url, 'GET', '/meshes/excl/dataplanes/nope/_layout')).status).toBe(404);
  });

  it('types Ursa does not model list empty; a named one is 404; who-am-i names the caller', async () => {
    for (const path of ['/meshes/shop/meshservices', '/meshes/shop/meshmultizoneservices', '/meshes/shop/meshexternalservices', '/meshes/shop/external-services', '/meshes/shop/meshgateways', '/meshes/shop/meshidentities', '/meshes/shop/meshtrusts', '/meshes/shop/workloads', '/meshservices', '/hostnamegenerators']) {
      const r = await call(api.url, 'GET', path);
      expect(r.status, path).toBe(200);
      expect(r.body, path).toEqual({ total: 0, items: [], next: null });
    }
    expect((await call(api.url, 'GET', '/meshes/nope/meshservices')).status).toBe(404);
    expect((await call(api.url, 'GET', '/meshes/shop/meshservices/web')).status).toBe(404);
    const me = await call(api.url, 'GET', '/who-am-i');
    expect(me.status).toBe(200);
    expect(me.body.groups).toContain('mesh-system:admin');
    expect(problems(ours.schema('WhoAmI'), me.body)).toBe('');
  });
});

describe('CORS (corsOrigins)', () => {
  const backend = backends()[0]!;
  let withCors: ApiServer;
  let without: ApiServer;
  beforeAll(async () => {
    withCors = await startApi(backend, { corsOrigins: ['https://gui.example.com'] });
    without = await startApi(backend);
  }, 60_000);
  afterAll(async () => {
    await withCors?.close();
    await without?.close();
  });

  it('answers the preflight of a configured origin without a token, and sends CORS headers on its requests', async () => {
    const pre = await fetch(`${withCors.url}/mesh-insights`, {
      method: 'OPTIONS',
      headers: { origin: 'https://gui.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(pre.status).toBeLessThan(300);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://gui.example.com');
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/GET/);
    const get = await fetch(`${withCors.url}/meshes`, { headers: { origin: 'https://gui.example.com' } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe('https://gui.example.com');
    const other = await fetch(`${withCors.url}/meshes`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends no CORS header when no origin is configured (the default)', async () => {
    const get = await fetch(`${without.url}/meshes`, { headers: { origin: 'https://gui.example.com' } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`${without.url}/meshes`, { method: 'OPTIONS', headers: { origin: 'https://gui.example.com', 'access-control-request-method': 'GET' } });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });
});
