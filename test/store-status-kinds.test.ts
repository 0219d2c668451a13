/**
 * Kinds stored apart from the change feed (descriptor `storage: 'status'`, ZoneInsight): their writes take no
 * tenant revision and wake no feed reader, while reads answer as for any kind. Every backend (PGlite always,
 * PostgreSQL when DATABASE_URL is set).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlreadyExistsError, ConflictError, type Database, ResourceStore } from '@ursa/core';
import { statusKinds } from '@ursa/proto';
import { backends } from '@ursa/test-support/backends.js';
import { freshTenant, meshTimeout, zone } from '@ursa/test-support/fixtures.js';

const insight = (name: string, id = 's1', labels: Record<string, string> = {}) => ({ kind: 'ZoneInsight', name, labels, spec: { subscriptions: [{ id, connectTime: '2026-01-01T00:00:00Z' }] } });

for (const backend of backends()) {
  describe(`status kinds on ${backend.name}`, () => {
    let database: Database;
    let dispose: () => Promise<void>;
    let store: ResourceStore;

    beforeAll(async () => {
      ({ database, dispose } = await backend.open());
      store = new ResourceStore(database.db);
    });
    afterAll(async () => dispose?.());

    it('ZoneInsight is the status kind, and status kinds are never synced', () => {
      expect(statusKinds().map((d) => d.kind)).toEqual(['ZoneInsight']);
      for (const d of statusKinds()) expect(d.kds, d.kind).toBe('none');
    });

    it('writes of a status kind move no revision and are not in the feed, but read back like any kind', async () => {
      const t = freshTenant();
      await store.create(t, zone('z1'));
      const before = await store.currentRevision(t);
      const created = await store.create(t, insight('z1', 's1', { team: 'a' }));
      expect(created).toMatchObject({ kind: 'ZoneInsight', mesh: '', name: 'z1', version: 1, revision: 0 });
      const updated = await store.update(t, insight('z1', 's2', { team: 'a' }), { expectedVersion: 1 });
      expect(updated.version).toBe(2);
      expect(await store.currentRevision(t)).toBe(before);
      const page = await store.changesSince(t, 0);
      expect(page.changes.map((c) => (c.op === 'upsert' ? c.resource.kind : c.key.kind))).toEqual(['Zone']);

      expect((await store.get(t, { kind: 'ZoneInsight', name: 'z1' }))?.spec).toEqual(insight('z1', 's2').spec);
      const listed = await store.list(t, 'ZoneInsight', { labels: { team: 'a' }, nameContains: 'z' });
      expect(listed.total).toBe(1);
      expect(listed.items[0]?.version).toBe(2);
      expect((await store.getMany(t, 'ZoneInsight', [{ mesh: '', name: 'z1' }, { mesh: '', name: 'nope' }])).size).toBe(1);
      expect((await store.countByKind(t)).get('ZoneInsight')).toBe(1);
    });

    it('a stale version conflicts, a second create is refused, and nothing is lost under racing updates', async () => {
      const t = freshTenant();
      await store.create(t, zone('z1'));
      await store.create(t, insight('z1'));
      await expect(store.create(t, insight('z1'))).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(store.update(t, insight('z1', 'x'), { expectedVersion: 7 })).rejects.toBeInstanceOf(ConflictError);
      const results = await Promise.allSettled([1, 2, 3, 4].map((i) => store.update(t, insight('z1', `s${i}`), { expectedVersion: 1 })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ConflictError)).toBe(true);
      expect((await store.get(t, { kind: 'ZoneInsight', name: 'z1' }))?.version).toBe(2);
    });

    it('a batch of feed and status writes applies together; a status deletion leaves no tombstone', async () => {
      const t = freshTenant();
      await store.apply(t, [{ op: 'create', resource: zone('z1') }, { op: 'create', resource: insight('z1') }, { op: 'create', resource: meshTimeout('mt') }]);
      expect(await store.currentRevision(t)).toBe(2);
      // One failing op rolls back the status write of the same batch too.
      await expect(store.apply(t, [{ op: 'upsert', resource: insight('z1', 'rolled-back') }, { op: 'create', resource: zone('z1') }])).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await store.get(t, { kind: 'ZoneInsight', name: 'z1' }))?.version).toBe(1);
      const results = await store.apply(t, [{ op: 'delete', key: { kind: 'Zone', name: 'z1' } }, { op: 'delete', ifExists: true, key: { kind: 'ZoneInsight', name: 'z1' } }]);
      expect(results.map((r) => r.op)).toEqual(['delete', 'delete']);
      expect(await store.get(t, { kind: 'ZoneInsight', name: 'z1' })).toBeUndefined();
      expect(await store.currentRevision(t)).toBe(3);
      // Created again after its deletion: a new row.
      expect((await store.create(t, insight('z1'))).version).toBe(1);
    });

    it('a status write for a tenant that never wrote anything else works (the tenant row is created)', async () => {
      const t = freshTenant();
      await store.create(t, insight('lonely'));
      expect(await store.currentRevision(t)).toBe(0);
      expect((await store.list(t, 'ZoneInsight')).total).toBe(1);
    });
  });
}
