/**
 * A policy's affected proxies, `GET /meshes/{mesh}/{policyType}/{name}/_resources/dataplanes`, replaying
 * Kuma v2.14.3's cases (`pkg/api-server/testdata/resources/inspect/policies/_resources/dataplanes/*`: the
 * request line, the resources, the golden body) on each backend. Dataplanes are written to the store as a zone
 * syncs them (the global takes none over its API). Not replayed: `meshtimeout_consumer_dataplanes` (Kubernetes
 * namespaces decide it), `meshgatewayroute_*` / `proxytemplate_*` / `retry_*` (legacy kinds Ursa does not store),
 * `meshservice` (MeshService resources). Added: a zone-origin policy does not select another zone's proxies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';

type Json = Record<string, unknown>;
const allow = [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }];
const dp = (name: string, service: string, labels: Record<string, string> = {}) => ({
  name,
  labels: { 'k8s.kuma.io/namespace': 'kuma-demo', 'kuma.io/display-name': name, ...labels },
  spec: { networking: { address: '127.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': service } }] } },
});
const item = (d: ReturnType<typeof dp>) => ({ type: 'Dataplane', mesh: 'default', name: d.name, labels: d.labels });

interface Case {
  readonly name: string;
  readonly request: string;
  readonly policies: readonly { kind: string; path: string; name: string; labels?: Record<string, string>; spec: Json }[];
  readonly dataplanes: readonly ReturnType<typeof dp>[];
  readonly status: number;
  readonly body: (dps: readonly ReturnType<typeof dp>[]) => Json;
}

const three = [dp('dp-1', 'foo'), dp('dp-2', 'bar'), dp('the-dp', 'bar')];
const mtpMesh = { kind: 'MeshTrafficPermission', path: 'meshtrafficpermissions', name: 'foo', spec: { targetRef: { kind: 'Mesh' }, from: allow } };
const CASES: readonly Case[] = [
  { name: 'match_mesh_dataplanes', request: '/meshes/default/meshtrafficpermissions/foo/_resources/dataplanes', policies: [mtpMesh], dataplanes: [dp('dp-1', 'foo')], status: 200, body: (d) => ({ items: [item(d[0]!)], total: 1 }) },
  {
    name: 'match_meshservice_dataplanes',
    request: '/meshes/default/meshtrafficpermissions/foo/_resources/dataplanes',
    policies: [{ ...mtpMesh, spec: { targetRef: { kind: 'MeshService', name: 'foo' }, from: allow } }],
    dataplanes: [dp('dp-1', 'foo'), dp('dp-2', 'bar')],
    status: 200,
    body: (d) => ({ items: [item(d[0]!)], total: 1 }),
  },
  { name: 'namefilter_dataplanes', request: '/meshes/default/meshtrafficpermissions/foo/_resources/dataplanes?name=the-dp', policies: [mtpMesh], dataplanes: three, status: 200, body: (d) => ({ items: [item(d[2]!)], total: 1 }) },
  { name: 'pagination_dataplanes', request: '/meshes/default/meshtrafficpermissions/foo/_resources/dataplanes?name=dp-&offset=1&size=1', policies: [mtpMesh], dataplanes: three, status: 200, body: (d) => ({ items: [item(d[1]!)], total: 2 }) },
  {
    name: 'policy_not_found_dataplanes',
    request: '/meshes/default/meshtimeouts/bar/_resources/dataplanes',
    policies: [mtpMesh],
    dataplanes: [],
    status: 404,
    body: () => ({ type: '/std-errors', status: 404, title: 'Could not retrieve policy', detail: 'Not found', details: 'Not found' }),
  },
  {
    name: 'mesh_doesnt_exist_not_found',
    request: '/meshes/nope/meshtimeouts/bar/_resources/dataplanes',
    policies: [],
    dataplanes: [],
    status: 404,
    body: () => ({ type: '/std-errors', status: 404, title: 'Failed to retrieve Mesh', detail: 'Not found', details: 'Not found' }),
  },
  {
    name: "a zone's own policy does not select another zone's proxies",
    request: '/meshes/default/meshtrafficpermissions/foo/_resources/dataplanes',
    policies: [{ ...mtpMesh, labels: { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'east' } }],
    dataplanes: [dp('dp-east', 'foo', { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'east' }), dp('dp-west', 'foo', { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'west' })],
    status: 200,
    body: (d) => ({ items: [item(d[0]!)], total: 1 }),
  },
];

describe.each(backends().map((b) => [b.name, b] as const))("a policy's affected proxies (_resources/dataplanes) on %s", (_name, backend) => {
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApi(backend);
  }, 60_000);
  afterAll(async () => api?.close());
  /** Dataplanes keep a mesh from being deleted: they go first (as their zone would withdraw them). */
  const clear = async (dps: readonly ReturnType<typeof dp>[]) => {
    for (const d of dps) await api.resources.delete('default', { kind: 'Dataplane', mesh: 'default', name: d.name });
    expect((await call(api.url, 'DELETE', '/meshes/default')).status).toBe(200);
  };

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    // Each case in a fresh tenant-wide state: its mesh and resources, then the request.
    expect((await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default', skipCreatingInitialPolicies: ['*'] } })).status).toBeLessThan(300);
    for (const p of c.policies) {
      const r = await call(api.url, 'PUT', `/meshes/default/${p.path}/${p.name}`, { body: { type: p.kind, mesh: 'default', name: p.name, ...(p.labels ? { labels: p.labels } : {}), spec: p.spec } });
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    }
    for (const d of c.dataplanes) await api.resources.create('default', { kind: 'Dataplane', mesh: 'default', ...d });
    try {
      const r = await call(api.url, 'GET', c.request);
      expect(r.status).toBe(c.status);
      const { instance, ...body } = r.body as Json;
      if (c.status >= 400) {
        expect(typeof instance).toBe('string');
        // Whether empty `invalid_parameters`/`causes` are written is the error body's rule everywhere, checked by
        // the conformance suite; here: the status, title and detail.
        for (const k of ['invalid_parameters', 'causes']) if (Array.isArray(body[k]) && (body[k] as unknown[]).length === 0) delete body[k];
      }
      expect(body).toEqual(c.body(c.dataplanes));
    } finally {
      await clear(c.dataplanes);
    }
  });

  it('pages with `next` as Kuma, and refuses a bad page size naming it', async () => {
    expect((await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default', skipCreatingInitialPolicies: ['*'] } })).status).toBeLessThan(300);
    try {
      await call(api.url, 'PUT', '/meshes/default/meshtrafficpermissions/foo', { body: { type: 'MeshTrafficPermission', mesh: 'default', name: 'foo', spec: { targetRef: { kind: 'Mesh' }, from: allow } } });
      for (const d of three) await api.resources.create('default', { kind: 'Dataplane', mesh: 'default', ...d });
      const first = await call(api.url, 'GET', '/meshes/default/meshtrafficpermissions/foo/_resources/dataplanes?size=2');
      expect(first.body.total).toBe(3);
      expect(first.body.items.map((i: Json) => i.name)).toEqual(['dp-1', 'dp-2']);
      const next = new URL(first.body.next as string);
      expect(next.searchParams.get('offset')).toBe('2');
      const second = await call(api.url, 'GET', `${next.pathname}${next.search}`);
      expect(second.body.items.map((i: Json) => i.name)).toEqual(['the-dp']);
      expect(second.body.next).toBeUndefined();
      const bad = await call(api.url, 'GET', '/meshes/default/meshtrafficpermissions/foo/_resources/dataplanes?size=x');
      expect(bad.status).toBe(400);
      expect(bad.body.invalid_parameters).toEqual([expect.objectContaining({ field: 'size' })]);
      // Not a policy type: no such endpoint.
      expect((await call(api.url, 'GET', '/meshes/default/secrets/foo/_resources/dataplanes')).status).toBe(404);
    } finally {
      await clear(three);
    }
  });
});
