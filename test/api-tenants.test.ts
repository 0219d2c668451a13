/**
 * Tenants and tokens over the HTTP API, on every backend. Two tenants built by the operator hold same-named
 * objects with different specs (every kind: writable ones through the API, zone-owned ones and insights
 * straight into the store, as KDS writes them); then, for every route the descriptor table generates plus the
 * token routes, tenant B sees only its own objects and cannot change A's. Also: no token without loopback
 * admin is a 401, revoked and expired tokens stop working, read-only tokens only read, and the operator route
 * takes only the operator token and valid, new tenant names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ResourceDescriptor, RESOURCES, validateResource } from '@ursa/proto';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';

const OPERATOR = 'operator-token-for-tests';
const MESH = 'default';

/** A valid spec of every kind, different for n = 1 (tenant A) and n = 2 (tenant B). */
function specFor(kind: string, n: number): Record<string, unknown> {
  const mesh = { kind: 'Mesh' };
  const svc = { kind: 'MeshService', name: `backend-${n}` };
  switch (kind) {
    case 'Mesh':
      return { routing: { localityAwareLoadBalancing: n === 1 }, skipCreatingInitialPolicies: n === 1 ? [] : ['*'] };
    case 'Zone':
      return { enabled: n === 1 };
    case 'ZoneIngress':
      return { networking: { address: `10.0.0.${n}`, port: 10000 + n } };
    case 'ZoneEgress':
      return { zone: `zone-${n}`, networking: { address: `10.0.1.${n}`, port: 10000 + n } };
    case 'Dataplane':
      return { networking: { address: `10.0.2.${n}`, inbound: [{ port: 8080 + n, tags: { 'kuma.io/service': `web-${n}` } }] } };
    case 'ZoneInsight':
    case 'ZoneIngressInsight':
    case 'ZoneEgressInsight':
    case 'DataplaneInsight':
      return {}; // insights differ by their labels only
    case 'Secret':
    case 'GlobalSecret':
      return { data: btoa(`secret-${n}`) };
    case 'MeshTrafficPermission':
      return { targetRef: mesh, from: [{ targetRef: mesh, default: { action: n === 1 ? 'Allow' : 'Deny' } }] };
    case 'MeshTimeout':
      return { targetRef: mesh, to: [{ targetRef: mesh, default: { http: { requestTimeout: `${n}s` } } }] };
    case 'MeshRetry':
      return { targetRef: mesh, to: [{ targetRef: mesh, default: { tcp: { maxConnectAttempt: n } } }] };
    case 'MeshCircuitBreaker':
      return { targetRef: mesh, to: [{ targetRef: mesh, default: { connectionLimits: { maxConnections: n } } }] };
    case 'MeshHealthCheck':
      return { targetRef: mesh, to: [{ targetRef: mesh, default: { interval: `${n}s`, timeout: '1s', unhealthyThreshold: 3, healthyThreshold: 1, http: { path: '/health' } } }] };
    case 'MeshHTTPRoute':
      return { targetRef: mesh, to: [{ targetRef: svc, rules: [{ matches: [{ path: { type: 'PathPrefix', value: `/v${n}` } }], default: { backendRefs: [{ ...svc, port: 80, weight: n }] } }] }] };
    case 'MeshTCPRoute':
      return { targetRef: mesh, to: [{ targetRef: svc, rules: [{ default: { backendRefs: [{ ...svc, port: 80, weight: n }] } }] }] };
    case 'MeshLoadBalancingStrategy':
      return { targetRef: mesh, to: [{ targetRef: mesh, default: { loadBalancer: { type: n === 1 ? 'RoundRobin' : 'Random' } } }] };
    case 'MeshFaultInjection':
      return { targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, from: [{ targetRef: mesh, default: { http: [{ abort: { httpStatus: 500, percentage: n } }] } }] };
    case 'MeshRateLimit':
      return { targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, rules: [{ default: { local: { http: { requestRate: { num: n, interval: '10s' } } } } }] };
    case 'MeshAccessLog':
      return { targetRef: mesh, from: [{ targetRef: mesh, default: { backends: [{ type: 'File', file: { path: `/tmp/access-${n}.log` } }] } }] };
    case 'MeshTrace':
      return { targetRef: mesh, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: `otel-${n}:4317` } }] } };
    case 'MeshExternalService':
      return { match: { type: 'HostnameGenerator', port: 443, protocol: 'tcp' }, endpoints: [{ address: `${n}.example.com`, port: 443 }] };
  }
  throw new Error(`no spec for ${kind}`);
}

const writable = (d: ResourceDescriptor) => !d.readOnly && !d.readOnlyOnGlobal;

/** Every path (and Kuma alternative path) of every type: the routes `routes/resources.ts` generates. */
const ROUTES = RESOURCES.flatMap((desc) =>
  [desc.path, ...desc.altPaths].map((path) => ({
    desc,
    path,
    label: `${desc.kind} at /${path}`,
    item: (name: string) => (desc.scope === 'mesh' ? `/meshes/${MESH}/${path}/${name}` : `/${path}/${name}`),
    lists: desc.scope === 'mesh' ? [`/meshes/${MESH}/${path}`, `/${path}`, `/meshes/only-a/${path}`] : [`/${path}`],
  })),
);

function restBody(desc: ResourceDescriptor, name: string, spec: Record<string, unknown>, labels: Record<string, string>): Record<string, unknown> {
  const meta = { type: desc.kind, ...(desc.scope === 'mesh' ? { mesh: MESH } : {}), name };
  return desc.shape === 'spec' ? { ...meta, labels, spec } : { ...meta, labels, ...spec };
}

/** The spec of a REST body (flat types: everything but the meta fields). */
function specOf(desc: ResourceDescriptor, body: Record<string, unknown>): unknown {
  if (desc.shape === 'spec') return body.spec;
  const meta = ['type', 'name', 'mesh', 'labels', 'creationTime', 'modificationTime', 'kri'];
  return Object.fromEntries(Object.entries(body).filter(([k]) => !meta.includes(k)));
}

/** Polls until `check` holds, or fails after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function expectKumaError(r: { status: number; body: any }, status: number, title?: string): void {
  expect(r.status).toBe(status);
  expect(r.body).toMatchObject({ type: '/std-errors', status, ...(title ? { title } : {}) });
  // As Kuma: both lists are left out when empty.
  expect(r.body.causes ?? []).toHaveLength((r.body.invalid_parameters ?? []).length);
}

interface Tenant {
  name: string;
  owner: string;
  n: number;
  admin: string;
  adminId: string;
  readOnly: string;
  readOnlyId: string;
}

for (const backend of backends()) {
  describe(`tenant isolation on ${backend.name}`, () => {
    let api: ApiServer;
    let a: Tenant;
    let b: Tenant;

    async function createTenant(name: string, owner: string, n: number): Promise<Tenant> {
      const r = await call(api.url, 'POST', '/_operator/tenants', { token: OPERATOR, body: { name } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body).toMatchObject({ tenant: name, token: { name: 'initial-admin', role: 'admin', expirationTime: null, revocationTime: null }, secret: expect.stringMatching(/^ursa_/) });
      const ro = await call(api.url, 'POST', '/tokens', { token: r.body.secret, body: { name: 'viewer', role: 'read-only' } });
      expect(ro.status).toBe(201);
      expect(ro.body).toMatchObject({ name: 'viewer', role: 'read-only', secret: expect.stringMatching(/^ursa_/) });
      return { name, owner, n, admin: r.body.secret, adminId: r.body.token.id, readOnly: ro.body.secret, readOnlyId: ro.body.id };
    }

    /**
     * Tenant A: `shared` and `only-a` of every kind (so also a mesh `only-a`, with Kuma's default policies);
     * B: `shared` of the writable kinds only. Both have the mesh `default`.
     */
    async function populate(t: Tenant, withOnlyA: boolean): Promise<void> {
      const labels = { owner: t.owner };
      const meshDesc = RESOURCES.find((d) => d.isMeshDefinition)!;
      expect((await call(api.url, 'PUT', `/meshes/${MESH}`, { token: t.admin, body: restBody(meshDesc, MESH, specFor('Mesh', t.n), labels) })).status).toBe(201);
      const names = withOnlyA ? ['shared', 'only-a'] : ['shared'];
      for (const desc of RESOURCES.filter(writable)) {
        for (const name of names) {
          const r = await call(api.url, 'PUT', ROUTES.find((x) => x.desc === desc)!.item(name), { token: t.admin, body: restBody(desc, name, specFor(desc.kind, t.n), labels) });
          expect(r.status, `${desc.kind} ${name}: ${JSON.stringify(r.body)}`).toBe(201);
        }
      }
      if (withOnlyA) {
        // Zone-owned types and insights cannot be written through the global's API; KDS writes them.
        await api.resources.apply(
          t.name,
          RESOURCES.filter((d) => !writable(d)).flatMap((desc) =>
            names.map((name) => ({ op: 'create' as const, resource: { kind: desc.kind, mesh: desc.scope === 'mesh' ? MESH : undefined, name, labels, spec: specFor(desc.kind, t.n) } })),
          ),
        );
      }
    }

    /** GET with `t`'s token: the object is there, is `owner`'s, and has `owner`'s spec. */
    async function expectOwned(t: Tenant, route: (typeof ROUTES)[number], name: string, owner: Tenant): Promise<void> {
      const r = await call(api.url, 'GET', route.item(name), { token: t.admin });
      expect(r.status, `${route.label} ${name} as ${t.owner}`).toBe(200);
      // What the API wrote carries Kuma's computed `kuma.io/mesh` label (mesh-scoped kinds).
      const computed = writable(route.desc) && route.desc.scope === 'mesh' ? { 'kuma.io/mesh': MESH } : {};
      expect(r.body.labels, `${route.label} ${name} as ${t.owner}`).toEqual({ owner: owner.owner, ...computed });
      const expected = validateResource({ kind: route.desc.kind, mesh: route.desc.scope === 'mesh' ? MESH : undefined, name, spec: specFor(route.desc.kind, owner.n) });
      expect(specOf(route.desc, r.body), `${route.label} ${name} as ${t.owner}`).toEqual(expected.ok ? expected.value.spec : undefined);
    }

    beforeAll(async () => {
      api = await startApi(backend);
      a = await createTenant('tenant-a', 'a', 1);
      b = await createTenant('tenant-b', 'b', 2);
      await populate(a, true);
      await populate(b, false);
    });
    afterAll(async () => api?.close());

    it('the fixtures are valid, and the routes under test are the ones /_resources lists', async () => {
      for (const desc of RESOURCES) {
        for (const n of [1, 2]) {
          const r = validateResource({ kind: desc.kind, mesh: desc.scope === 'mesh' ? MESH : undefined, name: 'x', spec: specFor(desc.kind, n) });
          expect(r.ok ? [] : r.violations, desc.kind).toEqual([]);
        }
      }
      const listed = await call(api.url, 'GET', '/_resources', { token: b.admin });
      expect(listed.status).toBe(200);
      expect(listed.body.resources.map((r: { name: string; path: string }) => `${r.name} ${r.path}`).sort()).toEqual(RESOURCES.map((d) => `${d.kind} ${d.path}`).sort());
    });

    it('operator: tenant tokens are refused (403), bad names are a 400 naming `name`, a duplicate is a 409', async () => {
      for (const token of [a.admin, a.readOnly, b.admin]) {
        expectKumaError(await call(api.url, 'POST', '/_operator/tenants', { token, body: { name: 'sneaky' } }), 403, 'Access Denied');
        expectKumaError(await call(api.url, 'GET', '/_operator/tenants', { token }), 403, 'Access Denied');
      }
      for (const name of ['', 'UPPER', 'a_b', '-a', 'a-', 'a.b', 'é', 'a'.repeat(64), ' a', 42, null, ['a'], { a: 1 }, undefined]) {
        const r = await call(api.url, 'POST', '/_operator/tenants', { token: OPERATOR, body: name === undefined ? {} : { name } });
        expectKumaError(r, 400);
        expect(r.body.invalid_parameters.map((p: { field: string }) => p.field), JSON.stringify(name)).toEqual(['name']);
      }
      expectKumaError(await call(api.url, 'POST', '/_operator/tenants', { token: OPERATOR, body: { name: 'tenant-a' } }), 409, 'Conflict');
      // The operator token is good for /_operator/* only.
      expectKumaError(await call(api.url, 'GET', '/meshes', { token: OPERATOR }), 401, 'Unauthenticated');
      const tenants = await call(api.url, 'GET', '/_operator/tenants', { token: OPERATOR });
      expect(tenants.body.items.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['tenant-a', 'tenant-b']));
      expect(tenants.body.items.map((t: { name: string }) => t.name)).not.toContain('sneaky');
    });

    it('for every route, GETs of the other tenant\'s objects are 404 and same-named objects are the caller\'s own', async () => {
      for (const route of ROUTES) {
        expectKumaError(await call(api.url, 'GET', route.item('only-a'), { token: b.admin }), 404);
        expect((await call(api.url, 'GET', route.item('only-a'), { token: b.readOnly })).status, route.label).toBe(404);
        await expectOwned(a, route, 'only-a', a);
        await expectOwned(a, route, 'shared', a);
        if (writable(route.desc)) await expectOwned(b, route, 'shared', b);
        else expect((await call(api.url, 'GET', route.item('shared'), { token: b.admin })).status, route.label).toBe(404);
      }
      expect((await call(api.url, 'GET', '/meshes/only-a', { token: b.admin })).status).toBe(404);
    });

    it('for every route, lists hold only the caller\'s items (empty where it has none)', async () => {
      for (const route of ROUTES) {
        for (const list of route.lists) {
          const mesh = list.startsWith('/meshes/') ? list.split('/')[2] : undefined;
          for (const [t, other] of [
            [b, a],
            [a, b],
          ] as const) {
            const r = await call(api.url, 'GET', `${list}?size=1000`, { token: t.readOnly });
            const own = await api.resources.list(t.name, route.desc.kind, { mesh, limit: 1000 });
            // Listing in a mesh the tenant does not have is Kuma's 404.
            if (mesh !== undefined && own.total === 0 && !(await api.resources.get(t.name, { kind: 'Mesh', name: mesh }))) {
              expectKumaError(r, 404, 'Failed to retrieve Mesh');
              continue;
            }
            expect(r.status, `${list} as ${t.owner}`).toBe(200);
            const names = (items: { mesh?: string; name: string }[]) => items.map((i) => `${i.mesh ?? ''}/${i.name}`).sort();
            expect(names(r.body.items), `${list} as ${t.owner}`).toEqual(names(own.items.map((i) => ({ mesh: route.desc.scope === 'mesh' ? i.mesh : undefined, name: i.name }))));
            expect(r.body.total, `${list} as ${t.owner}`).toBe(own.total);
            for (const item of r.body.items as { labels?: Record<string, string> }[]) expect(item.labels?.owner, `${list} as ${t.owner}`).not.toBe(other.owner);
          }
          // B has none of A's `only-a` objects, none of its mesh `only-a`, and no zone-owned objects at all.
          // In A's mesh `only-a`, which B does not have, every list is Kuma's 404 for B.
          const empty = list.startsWith('/meshes/only-a/') ? { status: 404, title: 'Failed to retrieve Mesh' } : { total: 0, items: [], next: null };
          const onlyA = await call(api.url, 'GET', `${list}?name=only-a`, { token: b.admin });
          expect(onlyA.body, list).toMatchObject(empty);
          const byLabel = await call(api.url, 'GET', `${list}?filter[labels.owner]=a`, { token: b.admin });
          expect(byLabel.body, list).toMatchObject(empty);
          if (!writable(route.desc) || list.startsWith('/meshes/only-a/')) {
            expect((await call(api.url, 'GET', list, { token: b.admin })).body, list).toMatchObject(empty);
          }
        }
      }
    });

    it('tokens are per tenant: B cannot list or revoke A\'s tokens', async () => {
      const aTokens = await call(api.url, 'GET', '/tokens', { token: a.admin });
      const bTokens = await call(api.url, 'GET', '/tokens', { token: b.admin });
      expect(aTokens.body.items.map((t: { id: string }) => t.id).sort()).toEqual([a.adminId, a.readOnlyId].sort());
      expect(bTokens.body.items.map((t: { id: string }) => t.id).sort()).toEqual([b.adminId, b.readOnlyId].sort());
      for (const id of [a.adminId, a.readOnlyId]) {
        expectKumaError(await call(api.url, 'DELETE', `/tokens/${id}`, { token: b.admin }), 404);
      }
      expect((await call(api.url, 'GET', '/meshes', { token: a.readOnly })).status).toBe(200);
      expect((await call(api.url, 'GET', '/tokens', { token: a.admin })).body.items.every((t: { revocationTime: unknown }) => t.revocationTime === null)).toBe(true);
      // A token B issues is B's.
      const issued = await call(api.url, 'POST', '/tokens', { token: b.admin, body: { name: 'ci', role: 'read-only' } });
      expect(issued.status).toBe(201);
      expect((await call(api.url, 'GET', '/tokens', { token: a.admin })).body.items.map((t: { id: string }) => t.id)).not.toContain(issued.body.id);
      expect((await call(api.url, 'GET', `/meshes/${MESH}`, { token: issued.body.secret })).body.labels).toEqual({ owner: 'b' });
    });

    it('read-only tokens read everything and may change nothing: 403 Access Denied', async () => {
      const before = await api.resources.snapshot(a.name);
      for (const route of ROUTES) {
        expect((await call(api.url, 'GET', route.item('shared'), { token: a.readOnly })).status, route.label).toBe(200);
        for (const list of route.lists) expect((await call(api.url, 'GET', list, { token: a.readOnly })).status, list).toBe(200);
        if (!writable(route.desc)) continue;
        const body = restBody(route.desc, 'shared', specFor(route.desc.kind, 2), { owner: 'a' });
        expectKumaError(await call(api.url, 'PUT', route.item('shared'), { token: a.readOnly, body }), 403, 'Access Denied');
        expectKumaError(await call(api.url, 'PUT', route.item('new-one'), { token: a.readOnly, body: { ...body, name: 'new-one' } }), 403, 'Access Denied');
        expectKumaError(await call(api.url, 'DELETE', route.item('shared'), { token: a.readOnly }), 403, 'Access Denied');
      }
      expectKumaError(await call(api.url, 'POST', '/tokens', { token: a.readOnly, body: { name: 'x', role: 'admin' } }), 403, 'Access Denied');
      expectKumaError(await call(api.url, 'DELETE', `/tokens/${a.adminId}`, { token: a.readOnly }), 403, 'Access Denied');
      expectKumaError(await call(api.url, 'GET', '/tokens', { token: a.readOnly }), 403, 'Access Denied');
      for (const meta of ['/_resources', '/policies', '/config']) expect((await call(api.url, 'GET', meta, { token: a.readOnly })).status, meta).toBe(200);
      expect(await api.resources.snapshot(a.name)).toEqual(before);
    });

    it('for every route, PUT and DELETE by B change only B\'s objects; A\'s are untouched', async () => {
      const before = await api.resources.snapshot(a.name);
      // Mesh last: deleting B's mesh takes B's policies with it.
      const routes = [...ROUTES].sort((x, y) => Number(x.desc.isMeshDefinition) - Number(y.desc.isMeshDefinition));
      for (const route of routes) {
        const { desc } = route;
        for (const name of ['only-a', 'shared']) {
          const body = restBody(desc, name, specFor(desc.kind, 2), { owner: 'b' });
          const put = await call(api.url, 'PUT', route.item(name), { token: b.admin, body });
          if (!writable(desc)) {
            expectKumaError(put, 405);
            expectKumaError(await call(api.url, 'DELETE', route.item(name), { token: b.admin }), 405);
            continue;
          }
          // B's `only-a` is a new object of B's; B's `shared` already exists (an update, or a create again
          // under an alternative path after an earlier path deleted it).
          expect([200, 201], `${route.label} ${name}: ${JSON.stringify(put.body)}`).toContain(put.status);
          await expectOwned(b, route, name, b);
          await expectOwned(a, route, name, a);
          // If-Match with the version of A's object must not reach A's object either.
          const aVersion = (await call(api.url, 'GET', route.item(name), { token: a.admin })).headers.get('etag')!;
          const pinned = await call(api.url, 'PUT', route.item(name), { token: b.admin, body, headers: { 'if-match': aVersion } });
          expect([200, 409], route.label).toContain(pinned.status);
          expect((await call(api.url, 'DELETE', route.item(name), { token: b.admin })).status, `${route.label} ${name}`).toBe(200);
          expectKumaError(await call(api.url, 'DELETE', route.item(name), { token: b.admin }), 404);
          await expectOwned(a, route, name, a);
        }
      }
      expect((await call(api.url, 'DELETE', '/meshes/only-a', { token: b.admin })).status).toBe(404);
      // Nothing of A's moved: same objects, versions and revisions.
      expect(await api.resources.snapshot(a.name)).toEqual(before);
      for (const route of ROUTES) {
        await expectOwned(a, route, 'only-a', a);
        await expectOwned(a, route, 'shared', a);
      }
      expect((await call(api.url, 'GET', '/meshes/only-a/meshtimeouts', { token: a.admin })).body.total).toBeGreaterThan(0);
    });

    it('a revoked token stops working (after the verification cache expires)', async () => {
      const issued = await call(api.url, 'POST', '/tokens', { token: a.admin, body: { name: 'to-revoke', role: 'admin' } });
      expect(issued.status).toBe(201);
      expect((await call(api.url, 'GET', '/meshes', { token: issued.body.secret })).status).toBe(200);
      expect((await call(api.url, 'DELETE', `/tokens/${issued.body.id}`, { token: a.admin })).status).toBe(200);
      expectKumaError(await call(api.url, 'DELETE', `/tokens/${issued.body.id}`, { token: a.admin }), 404);
      await until('the revoked token to be refused', async () => (await call(api.url, 'GET', '/meshes', { token: issued.body.secret })).status === 401);
      expectKumaError(await call(api.url, 'GET', '/meshes', { token: issued.body.secret }), 401, 'Unauthenticated');
      const listed = (await call(api.url, 'GET', '/tokens', { token: a.admin })).body.items.find((t: { id: string }) => t.id === issued.body.id);
      expect(listed.revocationTime).toEqual(expect.any(String));
      // The others keep working.
      expect((await call(api.url, 'GET', '/meshes', { token: a.readOnly })).status).toBe(200);
    }, 30_000);

    it('an expired token stops working', async () => {
      const issued = await call(api.url, 'POST', '/tokens', { token: a.admin, body: { name: 'short', role: 'read-only', validFor: 1 } });
      expect(issued.status).toBe(201);
      expect(Date.parse(issued.body.expirationTime) - Date.parse(issued.body.creationTime)).toBeGreaterThanOrEqual(900);
      await until('the expired token to be refused', async () => (await call(api.url, 'GET', '/meshes', { token: issued.body.secret })).status === 401);
      expectKumaError(await call(api.url, 'GET', '/meshes', { token: issued.body.secret }), 401, 'Unauthenticated');
    }, 30_000);
  });

  describe(`without loopback admin on ${backend.name}`, () => {
    let api: ApiServer;
    beforeAll(async () => {
      api = await startApi(backend, { auth: { loopbackAdmin: false, operatorToken: OPERATOR, isLoopback: () => false } });
    });
    afterAll(async () => api?.close());

    it('every route needs a token: 401 without one; the index stays public', async () => {
      const requests: [string, string][] = [['GET', '/_resources'], ['GET', '/policies'], ['GET', '/config'], ['GET', '/tokens'], ['POST', '/tokens'], ['DELETE', '/tokens/0123456789abcdef'], ['GET', '/_operator/tenants'], ['POST', '/_operator/tenants']];
      for (const route of ROUTES) {
        for (const list of route.lists) requests.push(['GET', list]);
        requests.push(['GET', route.item('x')], ['PUT', route.item('x')], ['DELETE', route.item('x')]);
      }
      for (const [method, path] of requests) {
        const body = method === 'POST' || method === 'PUT' ? { name: 'x' } : undefined;
        const r = await call(api.url, method, path, { body });
        expect(r.status, `${method} ${path}`).toBe(401);
        expectKumaError(r, 401, 'Unauthenticated');
      }
      expect((await call(api.url, 'GET', '/')).status).toBe(200);
      // With the operator's tenant and its token, the same routes answer.
      const created = await call(api.url, 'POST', '/_operator/tenants', { token: OPERATOR, body: { name: 'acme' } });
      expect(created.status).toBe(201);
      expect((await call(api.url, 'GET', '/meshes', { token: created.body.secret })).body).toEqual({ total: 0, items: [], next: null });
      expect((await call(api.url, 'PUT', `/meshes/${MESH}`, { token: created.body.secret, body: { type: 'Mesh', name: MESH } })).status).toBe(201);
      expect((await call(api.url, 'GET', `/meshes/${MESH}`)).status).toBe(401);
    });
  });
}
