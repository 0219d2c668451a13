/**
 * The store contract: one suite, run against every backend (PGlite always, PostgreSQL when DATABASE_URL is
 * set). Tests share one database per backend and isolate themselves by tenant id.
 */
import { describe, expect, it } from 'vitest';
import { AlreadyExistsError, ConflictError, NotFoundError, ValidationError } from '@ursa/core';
import { backends } from '@ursa/test-support/backends.js';
import { storeSuite } from '@ursa/test-support/store-suite.js';
import { freshTenant, meshTimeout, zone } from '@ursa/test-support/fixtures.js';

for (const backend of backends()) {
  describe(`store contract on ${backend.name}`, () => {
    const suite = storeSuite(backend);

    it('creates and reads back a resource with version 1 and a revision', async () => {
      const t = freshTenant();
      const created = await suite.store.create(t, meshTimeout('mt-1', { labels: { team: 'a' } }));
      expect(created).toMatchObject({ kind: 'MeshTimeout', mesh: 'default', name: 'mt-1', version: 1, revision: 1, labels: { team: 'a' } });
      const got = await suite.store.get(t, { kind: 'MeshTimeout', mesh: 'default', name: 'mt-1' });
      expect(got?.spec).toEqual(meshTimeout('mt-1').spec);
      expect(got?.creationTime).toBeInstanceOf(Date);
      expect(await suite.store.get(t, { kind: 'MeshTimeout', mesh: 'other', name: 'mt-1' })).toBeUndefined();
    });

    it('keeps global-scoped kinds without a mesh', async () => {
      const t = freshTenant();
      await suite.store.create(t, zone('zone-1'));
      expect(await suite.store.get(t, { kind: 'Zone', name: 'zone-1' })).toMatchObject({ mesh: '', name: 'zone-1', spec: { enabled: true } });
    });

    it('refuses to create a resource twice and writes nothing', async () => {
      const t = freshTenant();
      await suite.store.create(t, meshTimeout('dup'));
      await expect(suite.store.create(t, meshTimeout('dup', { timeout: '1s' }))).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(await suite.store.currentRevision(t)).toBe(1);
      expect((await suite.store.get(t, { kind: 'MeshTimeout', mesh: 'default', name: 'dup' }))?.version).toBe(1);
    });

    it('updates bump the version; updating a missing resource is not found', async () => {
      const t = freshTenant();
      await suite.store.create(t, meshTimeout('u'));
      const updated = await suite.store.update(t, meshTimeout('u', { timeout: '3s' }), { expectedVersion: 1 });
      expect(updated.version).toBe(2);
      expect(updated.revision).toBe(2);
      await expect(suite.store.update(t, meshTimeout('missing'))).rejects.toBeInstanceOf(NotFoundError);
    });

    it('optimistic concurrency: two updates from the same version, one wins, the other conflicts, nothing lost', async () => {
      const t = freshTenant();
      await suite.store.create(t, meshTimeout('race', { labels: { a: '0' } }));
      const base = (await suite.store.get(t, { kind: 'MeshTimeout', mesh: 'default', name: 'race' }))!;
      const results = await Promise.allSettled([
        suite.store.update(t, meshTimeout('race', { labels: { a: '1' } }), { expectedVersion: base.version }),
        suite.store.update(t, meshTimeout('race', { labels: { a: '2' } }), { expectedVersion: base.version }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toBeInstanceOf(ConflictError);
      expect(lost[0]!.reason).toMatchObject({ expectedVersion: 1, actualVersion: 2 });
      const winner = (won[0] as PromiseFulfilledResult<{ labels: Record<string, string> }>).value.labels.a!;
      const afterRace = (await suite.store.get(t, { kind: 'MeshTimeout', mesh: 'default', name: 'race' }))!;
      expect(afterRace).toMatchObject({ version: 2, labels: { a: winner } });
      // The loser re-reads and re-applies on top: both writes are in the history, nothing overwritten blindly.
      const loserLabel = winner === '1' ? '2' : '1';
      const retried = await suite.store.update(t, meshTimeout('race', { labels: { a: winner, b: loserLabel } }), { expectedVersion: afterRace.version });
      expect(retried).toMatchObject({ version: 3, labels: { a: winner, b: loserLabel } });
    });

    it('deletes leave a tombstone in the feed; re-creating continues the version', async () => {
      const t = freshTenant();
      await suite.store.create(t, meshTimeout('gone'));
      await expect(suite.store.delete(t, { kind: 'MeshTimeout', mesh: 'default', name: 'gone' }, { expectedVersion: 7 })).rejects.toBeInstanceOf(ConflictError);
      const rev = await suite.store.delete(t, { kind: 'MeshTimeout', mesh: 'default', name: 'gone' });
      expect(await suite.store.get(t, { kind: 'MeshTimeout', mesh: 'default', name: 'gone' })).toBeUndefined();
      await expect(suite.store.delete(t, { kind: 'MeshTimeout', mesh: 'default', name: 'gone' })).rejects.toBeInstanceOf(NotFoundError);
      const feed = await suite.store.changesSince(t, 1);
      expect(feed.changes).toEqual([{ op: 'delete', revision: rev, key: { kind: 'MeshTimeout', mesh: 'default', name: 'gone' } }]);
      const again = await suite.store.create(t, meshTimeout('gone'));
      expect(again.version).toBe(3);
      expect((await suite.store.list(t, 'MeshTimeout')).total).toBe(1);
    });

    it('lists with mesh, name-substring and label filters, in stable (mesh, name) order, paginated', async () => {
      const t = freshTenant();
      await suite.store.apply(t, [
        { op: 'create', resource: meshTimeout('b-web', { mesh: 'm2', labels: { team: 'web' } }) },
        { op: 'create', resource: meshTimeout('a-web', { mesh: 'm2', labels: { team: 'web', env: 'prod' } }) },
        { op: 'create', resource: meshTimeout('c.api', { mesh: 'm1', labels: { team: 'api' } }) },
        { op: 'create', resource: meshTimeout('cxapi', { mesh: 'm1' }) },
        { op: 'create', resource: zone('zone-a') },
      ]);
      const names = (r: { items: { mesh: string; name: string }[] }) => r.items.map((i) => `${i.mesh}/${i.name}`);
      expect(names(await suite.store.list(t, 'MeshTimeout'))).toEqual(['m1/c.api', 'm1/cxapi', 'm2/a-web', 'm2/b-web']);
      expect(names(await suite.store.list(t, 'MeshTimeout', { mesh: 'm2' }))).toEqual(['m2/a-web', 'm2/b-web']);
      expect(names(await suite.store.list(t, 'MeshTimeout', { nameContains: 'web' }))).toEqual(['m2/a-web', 'm2/b-web']);
      // `_` and `%` are matched literally, not as LIKE wildcards.
      expect(names(await suite.store.list(t, 'MeshTimeout', { nameContains: 'c_a' }))).toEqual([]);
      expect(names(await suite.store.list(t, 'MeshTimeout', { nameContains: '%' }))).toEqual([]);
      expect(names(await suite.store.list(t, 'MeshTimeout', { nameContains: 'c.a' }))).toEqual(['m1/c.api']);
      expect(names(await suite.store.list(t, 'MeshTimeout', { labels: { team: 'web', env: 'prod' } }))).toEqual(['m2/a-web']);
      const page = await suite.store.list(t, 'MeshTimeout', { limit: 2, offset: 1 });
      expect(names(page)).toEqual(['m1/cxapi', 'm2/a-web']);
      expect(page.total).toBe(4);
      const beyond = await suite.store.list(t, 'MeshTimeout', { limit: 2, offset: 10 });
      expect(beyond).toEqual({ items: [], total: 4 });
      expect((await suite.store.list(t, 'Zone')).total).toBe(1);
    });

    it('rejects bad input with a typed error listing every violation and writes nothing', async () => {
      const t = freshTenant();
      await suite.store.create(t, meshTimeout('keep'));
      const before = await suite.store.currentRevision(t);

      const unknown = await suite.store.create(t, { kind: 'MeshTeleport', mesh: 'default', name: 'x', spec: {} }).catch((e) => e);
      expect(unknown).toBeInstanceOf(ValidationError);
      expect(unknown.violations).toEqual([{ field: 'type', message: 'unknown resource type "MeshTeleport"' }]);

      for (const bad of ['Upper', 'has space', '-lead', 'trail-', `${'a'.repeat(254)}`, '']) {
        const err = await suite.store.create(t, meshTimeout(bad)).catch((e) => e);
        expect(err, `name ${JSON.stringify(bad)}`).toBeInstanceOf(ValidationError);
        expect(err.violations.map((v: { field: string }) => v.field)).toEqual(['name']);
      }
      expect((await suite.store.create(t, meshTimeout('a'.repeat(253)))).name).toHaveLength(253);

      const invalid = await suite.store
        .create(t, {
          kind: 'MeshTimeout',
          mesh: 'default',
          name: 'bad-spec',
          labels: { 'not a key!': 'v' },
          spec: {
            targetRef: { kind: 'Frobnicator', name: 'r' },
            to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: 'soon' } } }],
          },
        })
        .catch((e) => e);
      expect(invalid).toBeInstanceOf(ValidationError);
      const fields = invalid.violations.map((v: { field: string }) => v.field);
      expect(fields).toEqual(expect.arrayContaining(['labels["not a key!"]', 'spec.targetRef.kind', 'spec.to[0].default.http.requestTimeout']));

      // One bad op in a batch: the valid ones are not written either.
      const batch = await suite.store
        .apply(t, [{ op: 'create', resource: meshTimeout('fine') }, { op: 'create', resource: meshTimeout('NOPE') }])
        .catch((e) => e);
      expect(batch).toBeInstanceOf(ValidationError);
      expect(batch.violations[0].field).toBe('[1].name');

      expect(await suite.store.currentRevision(t)).toBe(before + 1); // only the 253-char name was written
      expect(await suite.store.get(t, { kind: 'MeshTimeout', mesh: 'default', name: 'fine' })).toBeUndefined();
      expect(await suite.store.get(t, { kind: 'MeshTimeout', mesh: 'default', name: 'bad-spec' })).toBeUndefined();
    });

    it('a batch is atomic: a conflict in the last op rolls back the first', async () => {
      const t = freshTenant();
      await suite.store.create(t, meshTimeout('exists'));
      await expect(
        suite.store.apply(t, [
          { op: 'create', resource: meshTimeout('new-one') },
          { op: 'create', resource: meshTimeout('exists') },
        ]),
      ).rejects.toBeInstanceOf(AlreadyExistsError);
      expect(await suite.store.get(t, { kind: 'MeshTimeout', mesh: 'default', name: 'new-one' })).toBeUndefined();
      expect(await suite.store.currentRevision(t)).toBe(1);
    });

    it('tenants are isolated: same keys, separate data and revisions', async () => {
      const a = freshTenant('a');
      const b = freshTenant('b');
      await suite.store.create(a, meshTimeout('same', { timeout: '1s' }));
      await suite.store.create(a, meshTimeout('only-a'));
      await suite.store.create(b, meshTimeout('same', { timeout: '2s' }));
      expect((await suite.store.get(b, { kind: 'MeshTimeout', mesh: 'default', name: 'same' }))?.revision).toBe(1);
      expect(await suite.store.get(b, { kind: 'MeshTimeout', mesh: 'default', name: 'only-a' })).toBeUndefined();
      expect((await suite.store.list(b, 'MeshTimeout')).total).toBe(1);
      expect((await suite.store.changesSince(b, 0)).changes).toHaveLength(1);
    });

    it('changesSince pages in revision order, filters kinds, and resumes from the returned revision', async () => {
      const t = freshTenant();
      for (let i = 0; i < 5; i++) await suite.store.create(t, meshTimeout(`p-${i}`));
      await suite.store.create(t, zone('z'));
      await suite.store.update(t, meshTimeout('p-0', { timeout: '9s' }));

      const first = await suite.store.changesSince(t, 0, { limit: 3 });
      expect(first.changes.map((c) => c.revision)).toEqual([2, 3, 4]);
      expect(first).toMatchObject({ revision: 4, more: true, resyncRequired: false });
      const rest = await suite.store.changesSince(t, first.revision, { limit: 10 });
      // p-0 was rewritten at revision 7: it appears once, in its latest state.
      expect(rest.changes.map((c) => c.revision)).toEqual([5, 6, 7]);
      expect(rest.changes[2]).toMatchObject({ op: 'upsert', resource: { name: 'p-0', version: 2 } });
      expect(rest).toMatchObject({ revision: 7, more: false });

      const zonesOnly = await suite.store.changesSince(t, 0, { kinds: ['Zone'] });
      expect(zonesOnly.changes.map((c) => c.revision)).toEqual([6]);
      expect(zonesOnly.revision).toBe(7);
      expect(await suite.store.changesSince(t, 7)).toEqual({ changes: [], revision: 7, more: false, resyncRequired: false });
    });

    it('asks for a resync when the reader is behind compaction or ahead of the database', async () => {
      const t = freshTenant();
      await suite.store.create(t, meshTimeout('x'));
      await suite.store.create(t, meshTimeout('y'));
      await suite.store.delete(t, { kind: 'MeshTimeout', mesh: 'default', name: 'x' }); // revision 3
      await suite.store.create(t, meshTimeout('z')); // revision 4
      expect(await suite.store.compact(t, new Date(Date.now() + 1000))).toBe(1);
      expect((await suite.store.changesSince(t, 1)).resyncRequired).toBe(true);
      expect((await suite.store.changesSince(t, 3)).changes.map((c) => c.revision)).toEqual([4]);
      expect((await suite.store.changesSince(t, 99)).resyncRequired).toBe(true);
      const snap = await suite.store.snapshot(t);
      expect(snap.revision).toBe(4);
      expect(snap.resources.map((r) => r.name)).toEqual(['y', 'z']);
    });
  });
}
