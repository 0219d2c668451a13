/**
 * Typed reads of the local store (`@ursa/core` `getTyped` / `listTyped` / `asTyped`, and `ResourcesByKind`
 * over what the zone agent's views read) on the real store, PGlite and (with DATABASE_URL) PostgreSQL: what
 * comes out is what the schema made of what went in (enum numbers stored as names), typed by kind.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { asTyped, type Database, getTyped, listTyped, ResourceStore } from '@ursa/core';
import type { PolicyKind, SpecOf } from '@ursa/proto';
import { backends } from '@ursa/test-support/backends.js';
import { LOCAL } from '../kds/state.js';
import { readLocalKinds } from '../rebuild-loop.js';
import { dataplaneOf } from './dataplane.js';
import { ResourcesByKind } from './resources.js';

const web = {
  kind: 'Dataplane',
  mesh: 'default',
  name: 'web-1',
  labels: {},
  // As a client may send it: protojson enum numbers.
  spec: { networking: { address: '10.0.0.1', inbound: [{ port: 8080, state: 2, tags: { 'kuma.io/service': 'web' } }, { port: 9090, state: 1, tags: { 'kuma.io/service': 'admin' } }] } },
};
const timeout = { kind: 'MeshTimeout', mesh: 'default', name: 'short', labels: {}, spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '1s' } }] } };

for (const backend of backends()) {
  describe(`typed resources (${backend.name})`, () => {
    let database: Database;
    let dispose: () => Promise<void>;
    let store: ResourceStore;
    beforeAll(async () => {
      ({ database, dispose } = await backend.open());
      store = new ResourceStore(database.db);
      await store.apply(LOCAL, [{ op: 'upsert', resource: { kind: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} } }]);
      await store.apply(LOCAL, [
        { op: 'upsert', resource: web },
        { op: 'upsert', resource: timeout },
        { op: 'upsert', resource: { kind: 'Secret', mesh: 'default', name: 's', labels: {}, spec: { data: 'eA==' } } },
      ]);
    }, 60_000);
    afterAll(async () => dispose?.());

    it('get and list a known kind typed, as the schema stored it', async () => {
      const dp = await getTyped(store, LOCAL, 'Dataplane', { mesh: 'default', name: 'web-1' });
      expectTypeOf(dp).toEqualTypeOf<(Omit<Awaited<ReturnType<ResourceStore['get']>> & {}, 'kind' | 'spec'> & { readonly kind: 'Dataplane'; readonly spec: SpecOf<'Dataplane'> }) | undefined>();
      expect(dp?.spec.networking.inbound?.map((i) => i.state)).toEqual(['Ignored', 'NotReady']);
      expect(await getTyped(store, LOCAL, 'Dataplane', { mesh: 'default', name: 'nope' })).toBeUndefined();

      const { items, total } = await listTyped(store, LOCAL, 'MeshTimeout', { mesh: 'default' });
      expect(total).toBe(1);
      expect(items[0]?.spec.to?.[0]?.default.connectionTimeout).toBe('1s');
    });

    it('refuses to narrow a resource to another kind', async () => {
      const dp = (await store.get(LOCAL, { kind: 'Dataplane', mesh: 'default', name: 'web-1' }))!;
      expect(() => asTyped('Mesh', dp)).toThrow(new TypeError('expected a Mesh, got a Dataplane'));
      expect(asTyped('Dataplane', dp)).toBe(dp);
    });

    it('groups what a view read by kind, typed, with every policy kind together', async () => {
      const all = new ResourcesByKind(await readLocalKinds(store, ['Dataplane', 'MeshTimeout', 'MeshRetry']));
      expect(all.has('Secret')).toBe(false);
      expect(all.get('Secret')).toBeUndefined();
      const dataplanes = all.get('Dataplane')!;
      expect(dataplanes.map((d) => d.name)).toEqual(['web-1']);
      expect(dataplaneOf(dataplanes[0]!).inbounds.map((i) => [i.service, i.ignored, i.healthy])).toEqual([
        ['web', true, false],
        ['admin', false, false],
      ]);
      const policies = all.policies();
      expect(policies.map((p) => `${p.kind}/${p.name}`)).toEqual(['MeshTimeout/short']);
      expectTypeOf(policies[0]!.kind).toEqualTypeOf<PolicyKind>();
      const p = policies[0]!;
      // The union is discriminated by kind: narrowing the kind narrows the spec.
      if (p.kind === 'MeshTimeout') expectTypeOf(p.spec).toEqualTypeOf<SpecOf<'MeshTimeout'>>();
    });
  });
}
