/**
 * Kinds stored apart from the change feed (descriptor `storage: 'status'`, ZoneInsight): their writes take no
 * tenant revision and wake no feed reader, while reads answer as for any kind. Every backend (PGlite always,
 * PostgreSQL when DATABASE_URL is set).
 */
import { describe, expect, it } from 'vitest';
import { AlreadyExistsError, ConflictError } from '@ursa/core';
import { statusKinds } from '@ursa/proto';
import { backends } from '@ursa/test-support/backends.js';
import { storeSuite } from '@ursa/test-support/store-suite.js';
import { freshTenant, meshTimeout, zone } from '@ursa/test-support/fixtures.js';

const insight = (name: string, id = 's1', labels: Record<string, string> = {}) => ({ kind: 'ZoneInsight', name, labels, spec: { subscriptions: [{ id, connectTime: '2026-01-01T00:00:00Z' }] } });

for (const backend of backends()) {
  describe(`status kinds on ${backend.name}`, () => {
    const suite = storeSuite(backend);

    it('ZoneInsight is the status kind, and status kinds are never synced', () => {
      expect(statusKinds().map((d) => d.kind)).toEqual(['ZoneInsight']);
      for (const d of statusKinds()) expect(d.kds, d.kind).toBe('none');
    });

    it('writes of a status kind move no revision and are not in the feed, but read back like any kind', async () => {
      const t = freshTenant();
      await suite.store.create(t, zone('z1'));
      const before = await suite.store.currentRevision(t);
      const created = await suite.store.create(t, insight('z1', 's1', { team: 'a' }));
      expect(created).toMatchObject({ kind: 'ZoneInsight', mesh: '', name: 'z1', version: 1, revision: 0 });
      const updated = await suite.store.update(t, insight('z1', 's2', { team: 'a' }), { expectedVersion: 1 });
      expect(updated.version).toBe(2);
      expect(await suite.store.currentRevision(t)).toBe(before);
      const page = await suite.store.changesSince(t, 0);
      expect(page.changes.map((c) => (c.op === 'upsert' ? c.resource.kind : c.key.kind))).toEqual(['Zone']);

      expect((await suite.store.get(t, { kind: 'ZoneInsight', name: 'z1' }))?.spec).toEqual(insight('z1', 's2').spec);
      const listed = await suite.store.list(t, 'ZoneInsight', { labels: { team: 'a' }, nameContains: 'z' });
      expect(listed.total).toBe(1);
      expect(listed.items[0]?.version).toBe(2);
      expect((await suite.store.getMany(t, 'ZoneInsight', [{ mesh: '', name: 'z1' }, { mesh: '', name: 'nope' }])).size).toBe(1);
      expect((await suite.store.countByKind(t)).get('ZoneInsight')).toBe(1);
    });

    it('a stale version conflicts, a second create is refused, and nothing is lost under racing updates', async () => {
      const t = freshTenant();
      await suite.store.create(t, zone('z1'));
      await suite.store.create(t, insight('z1'));
      await expect(suite.store.create(t, insight('z1'))).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(suite.store.update(t, insight('z1', 'x'), { expectedVersion: 7 })).rejects.toBeInstanceOf(ConflictError);
      const results = await Promise.allSettled([1, 2, 3, 4].map((i) => suite.store.update(t, insight('z1', `s${i}`), { expectedVersion: 1 })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ConflictError)).toBe(true);
      expect((await suite.store.get(t, { kind: 'ZoneInsight', name: 'z1' }))?.version).toBe(2);
    });

    it('a batch of feed and status writes applies together; a status deletion leaves no tombstone', async () => {
      const t = freshTenant();
      await suite.store.apply(t, [{ op: 'create', resource: zone('z1') }, { op: 'create', resource: insight('z1') }, { op: 'create', resource: meshTimeout('mt') }]);
      expect(await suite.store.currentRevision(t)).toBe(2);
      // One failing op rolls back the status write of the same batch too.
      await expect(suite.store.apply(t, [{ op: 'upsert', resource: insight('z1', 'rolled-back') }, { op: 'create', resource: zone('z1') }])).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await suite.store.get(t, { kind: 'ZoneInsight', name: 'z1' }))?.version).toBe(1);
      const results = await suite.store.apply(t, [{ op: 'delete', key: { kind: 'Zone', name: 'z1' } }, { op: 'delete', ifExists: true, key: { kind: 'ZoneInsight', name: 'z1' } }]);
      expect(results.map((r) => r.op)).toEqual(['delete', 'delete']);
      expect(await suite.store.get(t, { kind: 'ZoneInsight', name: 'z1' })).toBeUndefined();
      expect(await suite.store.currentRevision(t)).toBe(3);
      // Created again after its deletion: a new row.
      expect((await suite.store.create(t, insight('z1'))).version).toBe(1);
    });

    it('a status write for a tenant that never wrote anything else works (the tenant row is created)', async () => {
      const t = freshTenant();
      await suite.store.create(t, insight('lonely'));
      expect(await suite.store.currentRevision(t)).toBe(0);
      expect((await suite.store.list(t, 'ZoneInsight')).total).toBe(1);
    });
  });
}
