/**
 * The zone agent's view of the local store (`store-view.ts`, read by the xDS generator, the resolver and the
 * ingress bookkeeping) on the real store, PGlite and (with DATABASE_URL) PostgreSQL: it follows upserts and deletions through the change feed, keeps unchanged
 * resources as the same objects (what lets the generator skip them), and reloads when the feed cannot serve
 * its revision (compacted tombstones).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, ResourceStore } from '@ursa/core';
import { backends } from '@ursa/test-support/backends.js';
import { LOCAL } from './kds/state.js';
import { StoreView } from './store-view.js';

const dp = (name: string, port: number) => ({ kind: 'Dataplane', mesh: 'default', name, labels: {}, spec: { networking: { address: '10.0.0.1', inbound: [{ port, tags: { 'kuma.io/service': 'web' } }] } } });

for (const backend of backends()) {
  describe(`StoreView (${backend.name})`, () => {
    let database: Database;
    let dispose: () => Promise<void>;
    let store: ResourceStore;
    beforeAll(async () => {
      ({ database, dispose } = await backend.open());
      store = new ResourceStore(database.db);
      await store.apply(LOCAL, [{ op: 'upsert', resource: { kind: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} } }]);
    }, 60_000);
    afterAll(async () => dispose?.());

    it('follows the feed, keeps unchanged objects, and reloads after compaction', async () => {
      await store.apply(LOCAL, [{ op: 'upsert', resource: dp('a', 1) }, { op: 'upsert', resource: dp('b', 2) }]);
      const view = new StoreView(store, ['Mesh', 'Dataplane']);
      const first = await view.read();
      expect(first.get('Dataplane')!.map((r) => r.name).sort()).toEqual(['a', 'b']);
      const a1 = first.get('Dataplane')!.find((r) => r.name === 'a')!;

      await store.apply(LOCAL, [{ op: 'upsert', resource: dp('b', 3) }, { op: 'upsert', resource: dp('c', 4) }, { op: 'upsert', resource: { kind: 'Secret', mesh: 'default', name: 'x', labels: {}, spec: { data: 'eA==' } } }]);
      await store.delete(LOCAL, { kind: 'Dataplane', mesh: 'default', name: 'a' });
      const second = await view.read();
      const names = second.get('Dataplane')!.map((r) => r.name).sort();
      expect(names).toEqual(['b', 'c']);
      expect((second.get('Dataplane')!.find((r) => r.name === 'b')!.spec as { networking: { inbound: { port: number }[] } }).networking.inbound[0]!.port).toBe(3);
      // Kinds outside the view are not read.
      expect(second.has('Secret')).toBe(false);

      await store.apply(LOCAL, [{ op: 'upsert', resource: dp('a', 1) }]);
      const third = await view.read();
      const c2 = second.get('Dataplane')!.find((r) => r.name === 'c')!;
      expect(third.get('Dataplane')!.find((r) => r.name === 'c')).toBe(c2);
      expect(third.get('Dataplane')!.find((r) => r.name === 'a')).not.toBe(a1);

      // Tombstones compacted past the view's revision: it must reload, not miss the deletion.
      await store.delete(LOCAL, { kind: 'Dataplane', mesh: 'default', name: 'c' });
      expect(await store.compact(LOCAL, new Date(Date.now() + 60_000))).toBeGreaterThan(0);
      const fourth = await view.read();
      expect(fourth.get('Dataplane')!.map((r) => r.name).sort()).toEqual(['a', 'b']);
    });
  });
}
