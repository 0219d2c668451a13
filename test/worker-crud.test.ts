/**
 * The HTTP policy API served by workerd (`wrangler dev` as a real child process) over a real PostgreSQL
 * database reached through the Hyperdrive binding: the paths a kumactl user takes, auth and tenant isolation.
 * Tenants and tokens are made with TokenStore directly on the test's own fresh database; everything else
 * goes over HTTP to the Worker.
 *
 * wrangler starts in every run. Without DATABASE_URL only the check that needs no database runs (a token-less
 * request is refused before any store is opened), so the file is never empty; with DATABASE_URL the Worker
 * is pointed at a fresh, migrated database and the whole suite runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Database, TokenStore } from '@ursa/core';
import { call } from '@ursa/test-support/api.js';
import { postgresBackend } from '@ursa/test-support/backends.js';
import { startWorkerd, type Workerd } from '@ursa/test-support/workerd.js';
import { ursactl } from '@ursa/test-support/ursactl.js';

const DATABASE_URL = process.env.DATABASE_URL;

const mt = (name: string, mesh = 'default', timeout = '5s') => ({
  type: 'MeshTimeout',
  mesh,
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
});

const names = (body: { items: { name: string }[] }) => body.items.map((i) => i.name).sort();

describe('global plane HTTP API in workerd', () => {
  let workerd: Workerd;
  let db: { database: Database; dispose: () => Promise<void> } | undefined;
  /** Tokens, issued straight into the database the Worker reads. */
  const tokens = { admin: '', readOnly: '', otherAdmin: '' };

  beforeAll(async () => {
    if (DATABASE_URL) {
      db = await postgresBackend(DATABASE_URL).open(); // fresh database, migrated
      const store = new TokenStore(db.database.db);
      await store.createTenant('acme');
      await store.createTenant('globex');
      tokens.admin = (await store.issue('acme', { name: 'admin', role: 'admin' })).token;
      tokens.readOnly = (await store.issue('acme', { name: 'viewer', role: 'read-only' })).token;
      tokens.otherAdmin = (await store.issue('globex', { name: 'admin', role: 'admin' })).token;
    }
    workerd = await startWorkerd({ databaseUrl: db?.database.url });
  }, 90_000);

  afterAll(async () => {
    await workerd?.stop();
    await db?.dispose(); // closes our pool, then drops the database (with force)
  });

  it('never grants loopback admin: a request without a token is 401, though it comes from 127.0.0.1', async () => {
    for (const [method, path] of [
      ['GET', '/meshes'],
      ['PUT', '/meshes/m1'],
      ['GET', '/tokens'],
      ['POST', '/_operator/tenants'],
    ] as const) {
      const r = await call(workerd.url, method, path, method === 'GET' ? {} : { body: { type: 'Mesh', name: 'm1' } });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.body).toMatchObject({ type: '/std-errors', status: 401, title: 'Unauthenticated' });
    }
  });

  if (DATABASE_URL) {
    describe('on PostgreSQL through Hyperdrive', () => {
      it('ursactl (the real binary) against the Worker: apply YAML, get, inspect, delete, with a tenant token', async () => {
        const dir = await mkdtemp(join(tmpdir(), 'ursactl-worker-'));
        const config = join(dir, 'config.yaml');
        try {
          const run = (args: readonly string[], stdin?: string) => ursactl(config, args, stdin);
          expect((await run(['config', 'control-planes', 'add', '--name', 'worker', '--address', workerd.url, '--auth-token', tokens.admin])).code).toBe(0);
          const version = await run(['version']);
          expect(version.stdout).toMatch(/^Client: Ursa \S+\nServer: Ursa \S+ \(Kuma 2\.14\.\d+ API\)/);
          const applied = await run(['apply', '-f', '-'], 'type: Mesh\nname: cli-w\n---\n' + JSON.stringify(mt('cli-timeout', 'cli-w', '9s')));
          expect(applied.code, applied.stderr).toBe(0);
          expect(applied.stdout).toBe('Mesh "cli-w" created\nMeshTimeout "cli-timeout" in mesh cli-w created\n');
          const got = parse((await run(['get', 'meshtimeout', 'cli-timeout', '--mesh', 'cli-w', '-o', 'yaml'])).stdout) as ReturnType<typeof mt>;
          expect(got.spec.to[0]!.default.http.requestTimeout).toBe('9s');
          expect((await run(['inspect', 'meshes'])).stdout).toMatch(/\ncli-w\s/);
          expect((await run(['delete', 'meshtimeout', 'cli-timeout', '--mesh', 'cli-w'])).stdout.trim()).toBe('deleted MeshTimeout "cli-timeout" in mesh cli-w');
          const gone = await run(['get', 'meshtimeout', 'cli-timeout', '--mesh', 'cli-w']);
          expect([gone.code, gone.stderr.trim()]).toEqual([1, 'Error: Could not retrieve a resource: Not found']);
          // Another tenant's token sees none of it.
          expect((await run(['config', 'control-planes', 'add', '--name', 'globex', '--address', workerd.url, '--auth-token', tokens.otherAdmin])).code).toBe(0);
          expect((await run(['get', 'mesh', 'cli-w'])).code).toBe(1);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });

      it('PUT a Mesh is 201 and creates Kuma default policies', async () => {
        const r = await call(workerd.url, 'PUT', '/meshes/m1', { body: { type: 'Mesh', name: 'm1' }, token: tokens.admin });
        expect(r.status).toBe(201);
        const mesh = await call(workerd.url, 'GET', '/meshes/m1', { token: tokens.admin });
        expect(mesh.status).toBe(200);
        expect(mesh.body).toMatchObject({ type: 'Mesh', name: 'm1' });
        expect(names((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts', { token: tokens.admin })).body)).toEqual(['mesh-timeout-all-m1']);
        expect(names((await call(workerd.url, 'GET', '/meshes/m1/meshretries', { token: tokens.admin })).body)).toEqual(['mesh-retry-all-m1']);
        expect(names((await call(workerd.url, 'GET', '/meshes/m1/meshcircuitbreakers', { token: tokens.admin })).body)).toEqual(['mesh-circuit-breaker-all-m1']);
        // A second PUT of the same Mesh updates it.
        expect((await call(workerd.url, 'PUT', '/meshes/m1', { body: { type: 'Mesh', name: 'm1' }, token: tokens.admin })).status).toBe(200);
      });

      it('MeshTimeout: PUT 201, PUT 200, GET with ETag, list, DELETE 200, then 404', async () => {
        const base = '/meshes/m1/meshtimeouts/slow-api';
        expect((await call(workerd.url, 'PUT', base, { body: mt('slow-api', 'm1', '30s'), token: tokens.admin })).status).toBe(201);
        expect((await call(workerd.url, 'PUT', base, { body: mt('slow-api', 'm1', '45s'), token: tokens.admin })).status).toBe(200);

        const got = await call(workerd.url, 'GET', base, { token: tokens.admin });
        expect(got.status).toBe(200);
        expect(got.headers.get('etag')).toBe('"2"');
        expect(got.body).toMatchObject({ type: 'MeshTimeout', mesh: 'm1', name: 'slow-api', kri: 'kri_mt_m1___slow-api_', spec: { to: [{ default: { http: { requestTimeout: '45s' } } }] } });

        const list = await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts?size=10', { token: tokens.admin });
        expect(list.status).toBe(200);
        expect(list.body.total).toBe(2);
        expect(names(list.body)).toEqual(['mesh-timeout-all-m1', 'slow-api']);
        expect((await call(workerd.url, 'GET', '/meshtimeouts?name=slow', { token: tokens.admin })).body.items.map((i: { mesh: string }) => i.mesh)).toEqual(['m1']);

        expect((await call(workerd.url, 'DELETE', base, { token: tokens.admin })).status).toBe(200);
        const gone = await call(workerd.url, 'GET', base, { token: tokens.admin });
        expect(gone.status).toBe(404);
        expect(gone.body).toMatchObject({ type: '/std-errors', status: 404, detail: 'Not found' });
        expect((await call(workerd.url, 'DELETE', base, { token: tokens.admin })).status).toBe(404);
      });

      it('an invalid spec is a 400 listing every violation by field path', async () => {
        const bad = mt('bad', 'm1', 'soon');
        // A second violation in the same entry (an unknown field would be dropped with a warning, as Kuma drops it).
        (bad.spec.to[0]!.default as Record<string, unknown>).connectionTimeout = 'later';
        const r = await call(workerd.url, 'PUT', '/meshes/m1/meshtimeouts/bad', { body: bad, token: tokens.admin });
        expect(r.status).toBe(400);
        expect(r.body).toMatchObject({ type: '/std-errors', status: 400, detail: 'Resource is not valid' });
        const fields = r.body.invalid_parameters.map((p: { field: string }) => p.field);
        expect(fields).toEqual(expect.arrayContaining(['spec.to[0].default.http.requestTimeout']));
        expect(fields.some((f: string) => f.startsWith('spec.to[0]') && f !== 'spec.to[0].default.http.requestTimeout')).toBe(true);
        expect(r.body.causes).toHaveLength(r.body.invalid_parameters.length);
        expect((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts/bad', { token: tokens.admin })).status).toBe(404);
      });

      it('If-Match: a stale version is a 409 and nothing changes; body/URL mismatches are one 400 naming each field', async () => {
        const base = '/meshes/m1/meshtimeouts/cas';
        expect((await call(workerd.url, 'PUT', base, { body: mt('cas', 'm1', '1s'), token: tokens.admin })).status).toBe(201);
        const stale = await call(workerd.url, 'PUT', base, { body: mt('cas', 'm1', '2s'), token: tokens.admin, headers: { 'if-match': '"7"' } });
        expect(stale.status).toBe(409);
        expect(stale.body).toMatchObject({ type: '/std-errors', status: 409, title: 'Conflict' });
        expect((await call(workerd.url, 'GET', base, { token: tokens.admin })).body.spec.to[0].default.http.requestTimeout).toBe('1s');
        expect((await call(workerd.url, 'PUT', base, { body: mt('cas', 'm1', '2s'), token: tokens.admin, headers: { 'if-match': '"1"' } })).status).toBe(200);
        expect((await call(workerd.url, 'DELETE', base, { token: tokens.admin, headers: { 'if-match': '"2"' } })).status).toBe(200);

        const r = await call(workerd.url, 'PUT', '/meshes/m1/meshtimeouts/t9', { body: { ...mt('other', 'elsewhere', 'soon'), type: 'MeshRetry' }, token: tokens.admin });
        expect(r.status).toBe(400);
        expect(r.body.invalid_parameters.map((p: { field: string; reason: string }) => `${p.field}: ${p.reason}`)).toEqual(
          expect.arrayContaining([
            'type: type from the URL has to be the same as in body',
            'name: name from the URL has to be the same as in body',
            'mesh: mesh from the URL has to be the same as in body',
            'spec.to[0].default.http.requestTimeout: must be a duration string like "5s" or "1m30s"',
          ]),
        );
        expect((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts/t9', { token: tokens.admin })).status).toBe(404);
      });

      it('zone tokens: a bad request names each field; issued, listed and revoked per tenant', async () => {
        const bad = await call(workerd.url, 'POST', '/tokens/zone', { body: { zone: 'Not A Zone', validFor: -1 }, token: tokens.admin });
        expect(bad.status).toBe(400);
        expect(bad.body.invalid_parameters.map((p: { field: string }) => p.field).sort()).toEqual(['validFor', 'zone']);
        const issued = await call(workerd.url, 'POST', '/tokens/zone', { body: { zone: 'zone-1', validFor: 600 }, token: tokens.admin });
        expect(issued.status).toBe(201);
        expect(issued.body).toMatchObject({ zone: 'zone-1', token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/) });
        expect((await call(workerd.url, 'GET', '/tokens/zone', { token: tokens.admin })).body.items.map((t: { id: string }) => t.id)).toContain(issued.body.id);
        // Another tenant neither sees nor revokes it; a read-only token may not issue one.
        expect((await call(workerd.url, 'GET', '/tokens/zone', { token: tokens.otherAdmin })).body.items).toEqual([]);
        expect((await call(workerd.url, 'DELETE', `/tokens/zone/${issued.body.id}`, { token: tokens.otherAdmin })).status).toBe(404);
        expect((await call(workerd.url, 'POST', '/tokens/zone', { body: { zone: 'zone-2' }, token: tokens.readOnly })).status).toBe(403);
        expect((await call(workerd.url, 'DELETE', `/tokens/zone/${issued.body.id}`, { token: tokens.admin })).status).toBe(200);
      });

      it('unknown routes and missing resources are 404 with Kuma error bodies', async () => {
        const route = await call(workerd.url, 'GET', '/meshes/m1/teleporters', { token: tokens.admin });
        expect(route.status).toBe(404);
        expect(route.body).toMatchObject({ type: '/std-errors', status: 404, title: 'Not Found' });
        expect(route.body.instance).toMatch(/^ursa:trace:[0-9a-f]{32}$/);
        const mesh = await call(workerd.url, 'GET', '/meshes/nowhere', { token: tokens.admin });
        expect(mesh.status).toBe(404);
        expect(mesh.body).toMatchObject({ status: 404, detail: 'Not found' });
        expect(mesh.body.invalid_parameters).toBeUndefined();
      });

      it('refuses to modify a Dataplane on the global: 405', async () => {
        const r = await call(workerd.url, 'PUT', '/meshes/m1/dataplanes/dp-1', { body: { type: 'Dataplane', mesh: 'm1', name: 'dp-1' }, token: tokens.admin });
        expect(r.status).toBe(405);
        expect(r.body.detail).toContain('On global control plane you can not modify dataplane resources');
      });

      it('a bad or unknown token is 401', async () => {
        const unknown = `ursa_${'0'.repeat(16)}_${'A'.repeat(43)}`;
        expect((await call(workerd.url, 'GET', '/meshes', { token: unknown })).status).toBe(401);
        expect((await call(workerd.url, 'GET', '/meshes', { token: 'not-a-token' })).status).toBe(401);
        expect((await call(workerd.url, 'GET', '/meshes', { headers: { authorization: 'Basic eDp5' } })).status).toBe(401);
      });

      it('the read-only token reads but may not write: 403', async () => {
        expect((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts', { token: tokens.readOnly })).status).toBe(200);
        const put = await call(workerd.url, 'PUT', '/meshes/m1/meshtimeouts/ro', { body: mt('ro', 'm1'), token: tokens.readOnly });
        expect(put.status).toBe(403);
        expect(put.body).toMatchObject({ status: 403, title: 'Access Denied' });
        expect((await call(workerd.url, 'DELETE', '/meshes/m1/meshtimeouts/mesh-timeout-all-m1', { token: tokens.readOnly })).status).toBe(403);
        expect((await call(workerd.url, 'GET', '/tokens', { token: tokens.readOnly })).status).toBe(403);
        expect((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts/ro', { token: tokens.admin })).status).toBe(404);
        expect((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts/mesh-timeout-all-m1', { token: tokens.admin })).status).toBe(200);
      });

      it('tenant isolation: a second tenant sees none of the first tenant’s resources and cannot touch them', async () => {
        await call(workerd.url, 'PUT', '/meshes/m1/meshtimeouts/private', { body: mt('private', 'm1'), token: tokens.admin });
        const other = tokens.otherAdmin;
        expect((await call(workerd.url, 'GET', '/meshes', { token: other })).body).toMatchObject({ total: 0, items: [] });
        expect((await call(workerd.url, 'GET', '/meshtimeouts', { token: other })).body).toMatchObject({ total: 0, items: [] });
        // Its tenant has no mesh m1: listing in it is a 404, as Kuma answers for a missing mesh.
        expect((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts', { token: other })).status).toBe(404);
        expect((await call(workerd.url, 'GET', '/meshes/m1', { token: other })).status).toBe(404);
        expect((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts/private', { token: other })).status).toBe(404);
        expect((await call(workerd.url, 'DELETE', '/meshes/m1/meshtimeouts/private', { token: other })).status).toBe(404);
        // A policy into "m1" is refused: that tenant has no such mesh.
        const put = await call(workerd.url, 'PUT', '/meshes/m1/meshtimeouts/private', { body: mt('private', 'm1'), token: other });
        expect(put.status).toBe(400);
        expect(put.body.detail).toBe('Mesh is not found');
        // Its own "m1" is a new mesh (201, not an update of acme's), and its tokens list holds only its own.
        expect((await call(workerd.url, 'PUT', '/meshes/m1', { body: { type: 'Mesh', name: 'm1', skipCreatingInitialPolicies: ['*'] }, token: other })).status).toBe(201);
        expect((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts', { token: other })).body.total).toBe(0);
        expect((await call(workerd.url, 'GET', '/tokens', { token: other })).body.items.map((t: { name: string }) => t.name)).toEqual(['admin']);
        // The first tenant's data is untouched.
        expect(names((await call(workerd.url, 'GET', '/meshes/m1/meshtimeouts', { token: tokens.admin })).body)).toEqual(['mesh-timeout-all-m1', 'private']);
        expect((await call(workerd.url, 'GET', '/tokens', { token: tokens.admin })).body.total).toBe(2);
      });
    });
  }
});
