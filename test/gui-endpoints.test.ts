/**
 * What the Kuma GUI (release-2.14) calls for each of its pages, against a real global and a real zone agent
 * (two meshes, policies, dataplanes and a zone ingress registered on the zone, synced to the global): home,
 * zones, zone detail, zone ingresses, meshes, mesh overview, services, dataplanes, dataplane detail,
 * policies, policy detail. Each call answers 2xx with Kuma's shape: validated against Kuma 2.14.3's OpenAPI
 * document where it describes the path, else against Ursa's `/openapi.json`, plus the fields the GUI reads
 * (its `kuma-http-api` mocks and `zones/data`): e.g. a zone's subscription carries
 * `version.kumaCp.kumaCpGlobalCompatible` and a config with `environment`, `store.type` and
 * `dpServer.authn.dpProxy.type`. The global runs on its embedded PostgreSQL, or on a scratch database of
 * DATABASE_URL's server when that is set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '@ursa/test-support/api.js';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { meshTimeoutBody } from '@ursa/test-support/fixtures.js';
import { loadKumaOpenApi, openApiValidators, pointerToken, problems, type OpenApiValidators } from '@ursa/test-support/kuma-openapi.js';
import { eventually } from '@ursa/test-support/zone.js';

const ZONE = 'gui-zone';
const kuma = loadKumaOpenApi();

const dataplane = (mesh: string, name: string, service: string, port: number) => ({
  type: 'Dataplane',
  mesh,
  name,
  networking: { address: '127.0.0.1', inbound: [{ port, tags: { 'kuma.io/service': service, 'kuma.io/protocol': 'http' } }] },
});

/** Kuma's schema of `GET <template>`'s 200 body, when Kuma's document describes that path. */
function kumaResponse(template: string): ReturnType<OpenApiValidators['at']> | undefined {
  const op = kuma.doc.paths?.[template]?.get;
  const ok = op?.responses?.['200'];
  if (!ok) return undefined;
  if (typeof ok.$ref === 'string') return kuma.response(ok.$ref.split('/').pop()!);
  if (!ok.content?.['application/json']?.schema) return undefined;
  return kuma.at(`/paths/${pointerToken(template)}/get/responses/200/content/application~1json/schema`);
}

describe('the Kuma GUI pages against a real global and zone agent', () => {
  let global: GlobalProc | undefined;
  let zone: ZoneProc | undefined;
  let drop: (() => Promise<void>) | undefined;
  let ours: OpenApiValidators;

  /** GETs `path` (the GUI's call), expects 2xx, checks it against `template`'s schema in Kuma's or our document. */
  const get = async (path: string, opts: { kuma?: string; ours?: string } = {}): Promise<any> => {
    const r = await call(global!.url, 'GET', path);
    expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBeGreaterThanOrEqual(200);
    expect(r.status, path).toBeLessThan(300);
    if (opts.kuma) {
      const v = kumaResponse(opts.kuma);
      expect(v, `Kuma's document describes ${opts.kuma}`).toBeDefined();
      expect(problems(v!, r.body), path).toBe('');
    }
    if (opts.ours) expect(problems(ours.schema(opts.ours), r.body), path).toBe('');
    return r.body;
  };

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (process.env.DATABASE_URL) ({ url: databaseUrl, drop } = await scratchDatabase(process.env.DATABASE_URL, 'ursa_gui_ep'));
    global = await startGlobal({ databaseUrl });
    ours = openApiValidators((await call(global.url, 'GET', '/openapi.json')).body, 'ursa-openapi.json');
    for (const m of ['default', 'payments']) expect((await call(global.url, 'PUT', `/meshes/${m}`, { body: { type: 'Mesh', name: m } })).status).toBeLessThan(300);
    expect((await call(global.url, 'PUT', '/meshes/default/meshtimeouts/web-timeouts', { body: meshTimeoutBody('web-timeouts', '3s') })).status).toBe(201);
    expect((await call(global.url, 'PUT', '/meshes/payments/meshtimeouts/pay-timeouts', { body: meshTimeoutBody('pay-timeouts', '9s', 'payments') })).status).toBe(201);
    // The zone token as kumactl gets it (plain text).
    const token = await call(global.url, 'POST', '/tokens/zone', { body: { zone: ZONE, scope: ['cp'], validFor: '1h' }, headers: { accept: '*/*' } });
    expect(token.status).toBe(200);
    zone = await startZoneAgent({ name: ZONE, globalUrl: global.url, token: token.body as string, transport: 'ws' });
    for (const m of ['default', 'payments']) await eventually(`${m} on the zone`, async () => (await call(zone!.url, 'GET', `/meshes/${m}`)).status === 200, 30_000);
    for (const [mesh, name, service, port] of [
      ['default', 'web-1', 'web', 7001],
      ['default', 'web-2', 'web', 7002],
      ['payments', 'pay-1', 'payments-api', 7003],
    ] as const) {
      expect((await call(zone.url, 'PUT', `/meshes/${mesh}/dataplanes/${name}`, { body: dataplane(mesh, name, service, port) })).status).toBe(201);
    }
    const ingress = { type: 'ZoneIngress', name: 'ingress', networking: { address: '127.0.0.1', advertisedAddress: '192.0.2.10', port: 10001, advertisedPort: 10001 } };
    expect((await call(zone.url, 'PUT', '/zoneingresses/ingress', { body: ingress })).status).toBe(201);
    await eventually('dataplanes and the ingress on the global', async () => {
      const [d, p, i] = await Promise.all(['/meshes/default/dataplanes', '/meshes/payments/dataplanes', '/zoneingresses'].map((u) => call(global!.url, 'GET', u)));
      return d!.body.total === 2 && p!.body.total === 1 && i!.body.total === 1;
    }, 30_000);
  }, 180_000);

  afterAll(async () => {
    await zone?.stop();
    await global?.stop();
    await drop?.();
    await removeDirs([zone?.dataDir ?? '', global?.dataDir ?? ''].filter(Boolean));
  });

  it('home: config, global insight, mesh insights, zones, resource types', async () => {
    await get('/config');
    const gi = await get('/global-insight', { kuma: '/global-insight' });
    expect(gi.dataplanes.standard.total).toBe(3);
    expect(gi.zones.controlPlanes).toEqual({ online: 1, total: 1 });
    const mi = await get('/mesh-insights', { ours: 'MeshInsightList' });
    expect(mi.items.map((i: { name: string }) => i.name).sort()).toEqual(['default', 'payments']);
    await get('/zones/_overview', { ours: 'ZoneOverviewList' });
    await get('/_resources', { kuma: '/_resources' });
    await get('/who-am-i', { ours: 'WhoAmI' });
  });

  it("zones and zone detail: Online, with the subscription's version compatibility and zone config", async () => {
    const list = await get('/zones/_overview', { ours: 'ZoneOverviewList' });
    expect(list.items.map((z: { name: string }) => z.name)).toEqual([ZONE]);
    await get('/zones+insights', { ours: 'ZoneOverviewList' });
    await get(`/zones/${ZONE}`, { ours: 'ZoneItem' });
    const one = await get(`/zones/${ZONE}/_overview`, { ours: 'ZoneOverview' });
    const subs = one.zoneInsight.subscriptions as Record<string, any>[];
    const last = subs[subs.length - 1]!;
    expect(last.disconnectTime).toBeUndefined(); // the GUI's Online: a subscription without disconnectTime
    expect(last.version.kumaCp.kumaCpGlobalCompatible).toBe(true);
    const config = JSON.parse(last.config);
    expect(config).toMatchObject({ environment: 'universal', store: { type: 'postgres' }, dpServer: { authn: { dpProxy: { type: 'dpToken' } } } });
    await get(`/zones/${ZONE}/_overview`); // the zone's config tab reads the same
  });

  it('zone ingresses: list and detail', async () => {
    const list = await get('/zone-ingresses/_overview', { ours: 'ZoneIngressOverviewList' });
    expect(list.total).toBe(1);
    await get('/zoneingresses+insights', { ours: 'ZoneIngressOverviewList' });
    const name = list.items[0].name as string;
    await get(`/zone-ingresses/${name}/_overview`, { ours: 'ZoneIngressOverview' });
    await get(`/zoneingresses/${name}`, { kuma: '/zoneingresses/{name}' });
    await get('/zoneingresses', { kuma: '/zoneingresses' });
  });

  it('meshes and mesh overview', async () => {
    const meshes = await get('/meshes', { kuma: '/meshes' });
    expect(meshes.items.map((m: { name: string }) => m.name).sort()).toEqual(['default', 'payments']);
    await get('/meshes/default', { kuma: '/meshes/{name}' });
    const mi = await get('/mesh-insights/default', { ours: 'MeshInsight' });
    expect(mi.dataplanes.total).toBe(2);
    expect(mi.policies.MeshTimeout.total).toBeGreaterThanOrEqual(1);
    expect(mi.services).toEqual({ total: 1, internal: 1, external: 0 });
    expect(mi.resources.Dataplane).toEqual({ total: 2 });
  });

  it('services: service insights and the service types Ursa does not model (empty)', async () => {
    const list = await get('/meshes/default/service-insights', { ours: 'ServiceInsightList' });
    expect(list.items).toEqual([
      expect.objectContaining({ type: 'ServiceInsight', mesh: 'default', name: 'web', status: 'offline', dataplanes: { total: 2, online: 0, offline: 2 }, addressPort: 'web.mesh:80' }),
    ]);
    await get('/meshes/default/service-insights/web', { ours: 'ServiceInsight' });
    const all = await get('/service-insights', { ours: 'ServiceInsightList' });
    expect(all.items.map((s: { name: string }) => s.name)).toEqual(['web', 'payments-api']);
    for (const [path, template] of [
      ['/meshes/default/meshservices', '/meshes/{mesh}/meshservices'],
      ['/meshes/default/meshmultizoneservices', '/meshes/{mesh}/meshmultizoneservices'],
      ['/meshes/default/meshexternalservices', '/meshes/{mesh}/meshexternalservices'],
      ['/meshes/default/meshgateways', '/meshes/{mesh}/meshgateways'],
      ['/meshes/default/meshidentities', '/meshes/{mesh}/meshidentities'],
      ['/meshes/default/meshtrusts', '/meshes/{mesh}/meshtrusts'],
      ['/meshes/default/workloads', '/meshes/{mesh}/workloads'],
      ['/hostnamegenerators', '/hostnamegenerators'],
    ]) {
      const body = await get(path!, kumaResponse(template!) ? { kuma: template } : { ours: 'EmptyList' });
      expect(body, path).toEqual({ total: 0, items: [], next: null });
    }
    expect(await get('/meshes/default/external-services', { ours: 'EmptyList' })).toEqual({ total: 0, items: [], next: null });
  });

  it('dataplanes and dataplane detail', async () => {
    const list = await get('/meshes/default/dataplanes/_overview', { kuma: '/meshes/{mesh}/dataplanes/_overview' });
    expect(list.total).toBe(2);
    await get('/dataplanes/_overview', { ours: 'DataplaneOverviewList' });
    await get('/meshes/default/dataplanes+insights', { ours: 'DataplaneOverviewList' });
    await get('/meshes/default/dataplanes', { kuma: '/meshes/{mesh}/dataplanes' });
    const name = list.items[0].name as string;
    expect(name.startsWith('web-')).toBe(true);
    await get(`/meshes/default/dataplanes/${name}`, { kuma: '/meshes/{mesh}/dataplanes/{name}' });
    const one = await get(`/meshes/default/dataplanes/${name}/_overview`, { kuma: '/meshes/{mesh}/dataplanes/{name}/_overview' });
    expect(one.dataplane.networking.inbound[0].tags['kuma.io/service']).toBe('web');
  });

  it('policies and policy detail', async () => {
    await get('/policies', { ours: 'PolicyDescriptionList' });
    const list = await get('/meshes/default/meshtimeouts', { kuma: '/meshes/{mesh}/meshtimeouts' });
    expect(list.items.map((p: { name: string }) => p.name)).toContain('web-timeouts');
    const one = await get('/meshes/default/meshtimeouts/web-timeouts', { kuma: '/meshes/{mesh}/meshtimeouts/{name}' });
    expect(one.spec.to[0].default.http.requestTimeout).toBe('3s');
    await get('/meshes/payments/meshtimeouts/pay-timeouts', { kuma: '/meshes/{mesh}/meshtimeouts/{name}' });
  });
});
