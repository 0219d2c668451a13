/** The HTTP API over a real socket and a real database: the main paths a kumactl user takes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '@ursa/test-support/backends.js';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';

const mt = (name: string, mesh = 'default', timeout = '5s') => ({
  type: 'MeshTimeout',
  mesh,
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
});

for (const backend of backends()) {
  describe(`HTTP API basics on ${backend.name}`, () => {
    let api: ApiServer;
    beforeAll(async () => {
      api = await startApi(backend);
    });
    afterAll(async () => api?.close());

    it('creates a mesh with Kuma default policies, then a policy: 201, then 200 on update, and reads it back', async () => {
      expect((await call(api.url, 'PUT', '/meshes/m1', { body: { type: 'Mesh', name: 'm1' } })).status).toBe(201);
      const defaults = await call(api.url, 'GET', '/meshes/m1/meshretries');
      expect(defaults.body.items.map((i: { name: string }) => i.name)).toEqual(['mesh-retry-all-m1']);
      expect((await call(api.url, 'PUT', '/meshes/m1/meshtimeouts/t1', { body: mt('t1', 'm1') })).status).toBe(201);
      expect((await call(api.url, 'PUT', '/meshes/m1/meshtimeouts/t1', { body: mt('t1', 'm1', '9s') })).status).toBe(200);
      const got = await call(api.url, 'GET', '/meshes/m1/meshtimeouts/t1');
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ type: 'MeshTimeout', mesh: 'm1', name: 't1', spec: { to: [{ default: { http: { requestTimeout: '9s' } } }] } });
      expect(got.headers.get('etag')).toBe('"2"');
    });

    it('If-Match makes a write conditional: a stale version is a 409 and nothing changes', async () => {
      await call(api.url, 'PUT', '/meshes/m2', { body: { type: 'Mesh', name: 'm2' } });
      await call(api.url, 'PUT', '/meshes/m2/meshtimeouts/c', { body: mt('c', 'm2', '1s') });
      const stale = await call(api.url, 'PUT', '/meshes/m2/meshtimeouts/c', { body: mt('c', 'm2', '2s'), headers: { 'if-match': '"7"' } });
      expect(stale.status).toBe(409);
      expect(stale.body).toMatchObject({ status: 409, title: 'Conflict' });
      expect((await call(api.url, 'GET', '/meshes/m2/meshtimeouts/c')).body.spec.to[0].default.http.requestTimeout).toBe('1s');
      expect((await call(api.url, 'PUT', '/meshes/m2/meshtimeouts/c', { body: mt('c', 'm2', '2s'), headers: { 'if-match': '"1"' } })).status).toBe(200);
    });

    it('refuses body/URL mismatches with Kuma messages, all at once with spec errors', async () => {
      const bad = { ...mt('other', 'elsewhere', 'soon'), type: 'MeshRetry' };
      const r = await call(api.url, 'PUT', '/meshes/m1/meshtimeouts/t9', { body: bad });
      expect(r.status).toBe(400);
      expect(r.body.invalid_parameters.map((p: { field: string; reason: string }) => `${p.field}: ${p.reason}`)).toEqual(
        expect.arrayContaining([
          'type: type from the URL has to be the same as in body',
          'name: name from the URL has to be the same as in body',
          'mesh: mesh from the URL has to be the same as in body',
          'spec.to[0].default.http.requestTimeout: must be a duration string like "5s" or "1m30s"',
        ]),
      );
      expect(r.body.causes).toHaveLength(r.body.invalid_parameters.length);
      expect((await call(api.url, 'GET', '/meshes/m1/meshtimeouts/t9')).status).toBe(404);
    });

    it('drops unknown fields as Kuma does, names each in the warnings of the answer, and stores none of them', async () => {
      const body = { ...mt('typo', 'm1'), status: {}, colour: 'red' } as Record<string, unknown>;
      const spec = body.spec as { to: { default: Record<string, unknown> }[] };
      spec.to[0]!.default.idleTimoeut = '1m';
      const r = await call(api.url, 'PUT', '/meshes/m1/meshtimeouts/typo', { body });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({ warnings: ['unknown field "colour" was dropped', 'unknown field "spec.to[0].default.idleTimoeut" was dropped'] });
      const got = await call(api.url, 'GET', '/meshes/m1/meshtimeouts/typo');
      expect(got.body.spec.to[0].default).toEqual({ http: { requestTimeout: '5s' } });
      expect(JSON.stringify(got.body)).not.toMatch(/colour|idleTimoeut/);
      // Kuma's deprecation warning for a Mesh name that is not a DNS-1035 label; a clean write answers `{}`.
      expect((await call(api.url, 'PUT', '/meshes/aa.b', { body: { type: 'Mesh', name: 'aa.b' } })).body.warnings[0]).toMatch(/^Invalid Mesh resource name: 'aa\.b'\. It does not conform to the DNS format \(RFC 1035\)/);
      expect((await call(api.url, 'PUT', '/meshes/m1/meshtimeouts/typo', { body: mt('typo', 'm1') })).body).toEqual({});
    });

    it('accepts YAML bodies', async () => {
      const yaml = 'type: MeshTimeout\nname: y1\nmesh: m1\nspec:\n  targetRef: {kind: Mesh}\n  to:\n  - targetRef: {kind: Mesh}\n    default: {idleTimeout: 2m}\n';
      expect((await call(api.url, 'PUT', '/meshes/m1/meshtimeouts/y1', { body: yaml, headers: { 'content-type': 'application/yaml' } })).status).toBe(201);
      expect((await call(api.url, 'GET', '/meshes/m1/meshtimeouts/y1')).body.spec.to[0].default.idleTimeout).toBe('2m');
    });

    it('a policy in a missing mesh is "Mesh is not found"; zone-owned types are 405 on the global', async () => {
      const r = await call(api.url, 'PUT', '/meshes/ghost/meshtimeouts/x', { body: mt('x', 'ghost') });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ detail: 'Mesh is not found', invalid_parameters: [{ field: 'mesh', reason: 'mesh of name ghost is not found' }] });
      const dp = await call(api.url, 'PUT', '/meshes/m1/dataplanes/dp-1', { body: { type: 'Dataplane', mesh: 'm1', name: 'dp-1' } });
      expect(dp.status).toBe(405);
      expect(dp.body.detail).toContain('On global control plane you can not modify dataplane resources');
      expect((await call(api.url, 'DELETE', '/zone-insights/z')).status).toBe(405);
    });

    it('lists paginate with next links and filter by name and labels', async () => {
      await call(api.url, 'PUT', '/meshes/pg', { body: { type: 'Mesh', name: 'pg', skipCreatingInitialPolicies: ['*'] } });
      for (let i = 0; i < 5; i++) {
        await call(api.url, 'PUT', `/meshes/pg/meshtimeouts/p-${i}`, { body: { ...mt(`p-${i}`, 'pg'), labels: { team: i % 2 ? 'odd' : 'even' } } });
      }
      const first = await call(api.url, 'GET', '/meshes/pg/meshtimeouts?size=2');
      expect(first.body.total).toBe(5);
      expect(first.body.items.map((i: { name: string }) => i.name)).toEqual(['p-0', 'p-1']);
      const second = await call(api.url, 'GET', new URL(first.body.next).pathname + new URL(first.body.next).search);
      expect(second.body.items.map((i: { name: string }) => i.name)).toEqual(['p-2', 'p-3']);
      const last = await call(api.url, 'GET', '/meshes/pg/meshtimeouts?size=2&offset=4');
      expect(last.body.next).toBeNull();
      expect((await call(api.url, 'GET', '/meshes/pg/meshtimeouts?filter[labels.team]=odd')).body.total).toBe(2);
      expect((await call(api.url, 'GET', '/meshtimeouts?name=p-3')).body.items.map((i: { mesh: string }) => i.mesh)).toEqual(['pg']);
      expect((await call(api.url, 'GET', '/meshes/pg/meshtimeouts?size=1001')).status).toBe(400);
      expect((await call(api.url, 'GET', '/meshes/pg/meshtimeouts?offset=-1')).status).toBe(400);
      expect((await call(api.url, 'GET', '/meshes/pg/meshtimeouts?filter[spec.x]=1')).status).toBe(400);
    });

    it('deleting a mesh deletes its policies and secrets; it is refused while dataplanes remain', async () => {
      await call(api.url, 'PUT', '/meshes/gone', { body: { type: 'Mesh', name: 'gone', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } } });
      const secrets = await call(api.url, 'GET', '/meshes/gone/secrets');
      expect(secrets.body.items.map((s: { name: string }) => s.name).sort()).toEqual(['gone.ca-builtin-cert-ca-1', 'gone.ca-builtin-key-ca-1']);
      expect(atob(secrets.body.items[0].data)).toMatch(/^-----BEGIN (CERTIFICATE|PRIVATE KEY)-----/);
      // A zone's dataplane (written through the store, as KDS will) blocks the deletion.
      await api.resources.create('default', { kind: 'Dataplane', mesh: 'gone', name: 'dp-1', spec: { networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }] } } });
      const refused = await call(api.url, 'DELETE', '/meshes/gone');
      expect(refused.status).toBe(400);
      expect(refused.body.invalid_parameters).toEqual([{ field: 'mesh', reason: 'unable to delete mesh, there are still some dataplanes attached', source: 'body' }]);
      await api.resources.delete('default', { kind: 'Dataplane', mesh: 'gone', name: 'dp-1' });
      expect((await call(api.url, 'DELETE', '/meshes/gone')).status).toBe(200);
      // Nothing of the mesh is left (a store-level check), and listing in it is Kuma's 404.
      for (const kind of ['MeshTimeout', 'Secret']) expect((await api.resources.list('default', kind, { mesh: 'gone' })).total).toBe(0);
      expect((await call(api.url, 'GET', '/meshes/gone/meshtimeouts')).body).toMatchObject({ status: 404, title: 'Failed to retrieve Mesh' });
      expect((await call(api.url, 'GET', '/meshes/gone')).status).toBe(404);
    });

    it('unknown routes and bad JSON are 4xx with Kuma error bodies', async () => {
      const nf = await call(api.url, 'GET', '/meshes/m1/teleporters');
      expect(nf.status).toBe(404);
      expect(nf.body).toMatchObject({ type: '/std-errors', status: 404 });
      const badJson = await call(api.url, 'PUT', '/meshes/m1/meshtimeouts/j', { body: '{"type":', headers: { 'content-type': 'application/json' } });
      expect(badJson.status).toBe(400);
      expect(badJson.body.detail).toMatch(/^invalid JSON/);
    });
  });
}
