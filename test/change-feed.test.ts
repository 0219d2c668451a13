/**
 * The change feed is gap-free: a reader that has seen revision R never misses a change that commits later
 * with a smaller number. Proven with concurrent writers against every backend (on PostgreSQL the writers
 * really run in parallel on separate connections), and with a deliberately slow transaction on PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { type Change, ResourceStore, type WriteResult } from '@ursa/core';
import { backends } from '@ursa/test-support/backends.js';
import { storeSuite } from '@ursa/test-support/store-suite.js';
import { freshTenant, meshTimeout } from '@ursa/test-support/fixtures.js';

const WRITERS = 8;
const WRITES_EACH = 500;

interface Seen {
  revision: number;
  key: string;
  op: Change['op'];
}

const keyOf = (c: Change) => (c.op === 'delete' ? `${c.key.mesh}/${c.key.name}` : `${c.resource.mesh}/${c.resource.name}`);

/** Tails the feed until `done()` and the reader has caught up with the final revision. */
async function tail(store: ResourceStore, tenant: string, done: () => boolean): Promise<{ seen: Seen[]; polls: number }> {
  const seen: Seen[] = [];
  let revision = 0;
  let polls = 0;
  for (;;) {
    const finished = done(); // read before polling: a poll after completion sees everything
    const page = await store.changesSince(tenant, revision, { limit: 97 });
    polls++;
    expect(page.resyncRequired).toBe(false);
    for (const c of page.changes) seen.push({ revision: c.revision, key: keyOf(c), op: c.op });
    revision = page.revision;
    if (finished && !page.more) return { seen, polls };
    if (page.changes.length === 0) await new Promise((r) => setTimeout(r, 1));
  }
}

function expectStrictlyIncreasing(seen: Seen[]) {
  for (let i = 1; i < seen.length; i++) {
    if (seen[i]!.revision <= seen[i - 1]!.revision) {
      throw new Error(`feed went backwards or repeated at ${i}: ${seen[i - 1]!.revision} then ${seen[i]!.revision}`);
    }
  }
}

for (const backend of backends()) {
  describe(`gap-free change feed on ${backend.name}`, () => {
    const suite = storeSuite(backend);

    it(`${WRITERS} concurrent writers x ${WRITES_EACH} writes: a tailing reader sees exactly every committed change, in order, once`, async () => {
      const tenant = freshTenant('feed');
      const committed: { revision: number; key: string }[] = [];
      let running = WRITERS;
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        try {
          for (let i = 0; i < WRITES_EACH; i++) {
            const r = await suite.store.create(tenant, meshTimeout(`w${w}-${i}`));
            committed.push({ revision: r.revision, key: `default/w${w}-${i}` });
          }
        } finally {
          running--;
        }
      });
      const reader = tail(suite.store, tenant, () => running === 0);
      await Promise.all(writers);
      const { seen, polls } = await reader;

      expect(committed).toHaveLength(WRITERS * WRITES_EACH);
      expectStrictlyIncreasing(seen);
      const expected = [...committed].sort((a, b) => a.revision - b.revision);
      expect(seen.map((s) => `${s.revision} ${s.key}`)).toEqual(expected.map((c) => `${c.revision} ${c.key}`));
      // Revisions are dense: 1..N, none lost to a rolled-back or interleaved writer.
      expect(expected.map((c) => c.revision)).toEqual(Array.from({ length: WRITERS * WRITES_EACH }, (_, i) => i + 1));
      // The reader really tailed while writers ran (not one read at the end).
      expect(polls).toBeGreaterThan(10);
    });

    it('with updates and deletes mixed in, the reader misses nothing and converges on the stored state', async () => {
      const tenant = freshTenant('mix');
      const writes: { revision: number; key: string; op: Change['op'] }[] = [];
      let running = WRITERS;
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        try {
          const live: string[] = [];
          for (let i = 0; i < 150; i++) {
            let result: WriteResult;
            if (i % 5 === 3 && live.length > 0) {
              result = (await suite.store.apply(tenant, [{ op: 'update', resource: meshTimeout(live[0]!, { timeout: `${i}s` }) }]))[0]!;
            } else if (i % 7 === 6 && live.length > 1) {
              const name = live.shift()!;
              result = (await suite.store.apply(tenant, [{ op: 'delete', key: { kind: 'MeshTimeout', mesh: 'default', name } }]))[0]!;
            } else {
              const name = `m${w}-${i}`;
              result = (await suite.store.apply(tenant, [{ op: 'create', resource: meshTimeout(name) }]))[0]!;
              live.push(name);
            }
            writes.push(
              result.op === 'delete'
                ? { revision: result.revision, key: `default/${result.key.name}`, op: 'delete' }
                : { revision: result.resource.revision, key: `default/${result.resource.name}`, op: 'upsert' },
            );
          }
        } finally {
          running--;
        }
      });
      const reader = tail(suite.store, tenant, () => running === 0);
      await Promise.all(writers);
      const { seen } = await reader;

      expectStrictlyIncreasing(seen);
      const byRevision = new Map(writes.map((w) => [w.revision, w]));
      for (const s of seen) expect(byRevision.get(s.revision), `phantom revision ${s.revision}`).toMatchObject({ key: s.key, op: s.op });
      // Every write is either seen or superseded by a later write of the same key that the reader saw.
      const seenRevisions = new Set(seen.map((s) => s.revision));
      const lastSeenOfKey = new Map<string, number>();
      for (const s of seen) lastSeenOfKey.set(s.key, s.revision);
      for (const w of writes) {
        if (!seenRevisions.has(w.revision)) expect(lastSeenOfKey.get(w.key) ?? -1, `write ${w.revision} of ${w.key} lost`).toBeGreaterThan(w.revision);
      }
      // Replaying the feed gives exactly what the suite.store holds.
      const replayed = new Map<string, number>();
      for (const s of seen) {
        if (s.op === 'delete') replayed.delete(s.key);
        else replayed.set(s.key, s.revision);
      }
      const snap = await suite.store.snapshot(tenant);
      expect(new Map(snap.resources.map((r) => [`${r.mesh}/${r.name}`, r.revision]))).toEqual(replayed);
    });

    if (backend.name === 'postgres') {
      it('a slow transaction holding an earlier revision hides later writers until it commits', async () => {
        const tenant = freshTenant('slow');
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        let entered!: () => void;
        const inside = new Promise<void>((r) => (entered = r));
        const slowStore = new ResourceStore(suite.database.db, {
          beforeCommit: async () => {
            entered();
            await gate;
          },
        });
        const slow = slowStore.create(tenant, meshTimeout('slow'));
        await inside; // the slow writer holds revision 1, uncommitted
        const fast = suite.store.create(tenant, meshTimeout('fast')); // must queue behind it
        const fastDone = fast.then(() => true);
        // While the slow writer is open, the reader sees neither write and the fast one has not committed.
        const during = await suite.store.changesSince(tenant, 0);
        expect(during.changes).toEqual([]);
        expect(await Promise.race([fastDone, new Promise((r) => setTimeout(() => r(false), 200))])).toBe(false);
        release();
        const [s, f] = await Promise.all([slow, fast]);
        expect([s.revision, f.revision]).toEqual([1, 2]);
        const after = await suite.store.changesSince(tenant, 0);
        expect(after.changes.map((c) => (c.op === 'upsert' ? c.resource.name : ''))).toEqual(['slow', 'fast']);
      });
    }
  });
}
