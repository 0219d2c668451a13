/**
 * The global's in-memory feed cache answers exactly as the store's change feed: each key once, in its
 * latest state. A property test compares the two over random writes, deletes and resumes (fixed seed,
 * bounded count; FEED_SEED=<n> replays another sequence), plus the concrete case that kept zones stuck: a
 * zone resuming from before a policy that was since deleted got the old version, for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, type ResourceStore, type WakeListener, type Waker, type WriteOp, createStores } from '@ursa/core';
import { FeedCache } from '@ursa/global-api';
import { backends } from '@ursa/test-support/backends.js';
import { freshTenant, meshTimeout } from '@ursa/test-support/fixtures.js';
import { mulberry32 } from '@ursa/test-support/random.js';

const SEED = process.env.FEED_SEED !== undefined ? Number(process.env.FEED_SEED) : 20_251_207;
const SEQUENCES = 8;
const STEPS = 30;

/** The NOTIFY doorbell, rung by the test after each write: the cache then reads the feed for sure. */
class ManualWaker implements Waker {
  #listeners = new Set<WakeListener>();
  subscribe(_tenant: string, l: WakeListener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
  ring(): void {
    for (const l of this.#listeners) l('*');
  }
  async close(): Promise<void> {}
}

for (const backend of backends()) {
  describe(`feed cache on ${backend.name}`, () => {
    let database: Database;
    let dispose: () => Promise<void>;
    let store: ResourceStore;

    beforeAll(async () => {
      ({ database, dispose } = await backend.open());
      store = createStores(database.db).resources;
    });
    afterAll(async () => dispose?.());

    it('a zone resuming from before an update and a delete gets only the delete (each key once, latest state)', async () => {
      const tenant = freshTenant('feed-heal');
      const waker = new ManualWaker();
      const cache = new FeedCache(store, waker);
      await store.create(tenant, meshTimeout('other'));
      const before = await store.currentRevision(tenant);
      await cache.changesSince(tenant, before, 100); // the cache starts here, as on a running global
      await store.create(tenant, meshTimeout('big', { timeout: '1s' }));
      waker.ring();
      expect((await cache.changesSince(tenant, before, 100)).changes.map((c) => c.op)).toEqual(['upsert']);
      await store.delete(tenant, { kind: 'MeshTimeout', mesh: 'default', name: 'big' });
      for (let i = 0; i < 50; i++) await store.upsert(tenant, meshTimeout('other', { timeout: `${i + 1}s` }));
      waker.ring();

      const fromCache = await cache.changesSince(tenant, before, 1000);
      const fromStore = await store.changesSince(tenant, before, { limit: 1000, kinds: cache.kinds });
      expect(fromCache).toEqual(fromStore);
      // Concretely: `big` once, as a tombstone, and `other` once, at its last version.
      expect(fromCache.changes.map((c) => (c.op === 'delete' ? `delete ${c.key.name}` : `upsert ${c.resource.name}`))).toEqual(['delete big', 'upsert other']);
      cache.close();
    });

    it("keeps the zone map (name -> enabled) current from Zone changes, without reloading every Zone, and after compaction", async () => {
      const tenant = freshTenant('feed-zones');
      const waker = new ManualWaker();
      const cache = new FeedCache(store, waker);
      const zone = (name: string, enabled = true) => ({ kind: 'Zone', mesh: '', name, labels: {}, spec: { enabled } });
      await store.apply(tenant, ['a', 'b', 'c'].map((n) => ({ op: 'create', resource: zone(n) }) as WriteOp));
      const map = await cache.zones(tenant);
      expect([...map]).toEqual([['a', true], ['b', true], ['c', true]]);
      // Later changes are read from the feed: counting the store's calls shows no full listing.
      let lists = 0;
      const counting = new Proxy(store, { get: (s, k) => (k === 'list' || k === 'snapshot' ? (lists++, Reflect.get(s, k).bind(s)) : Reflect.get(s, k)) });
      const incremental = new FeedCache(counting, waker);
      expect([...(await incremental.zones(tenant))]).toEqual([...map]);
      expect(lists).toBe(1);
      await store.upsert(tenant, zone('b', false));
      await store.delete(tenant, { kind: 'Zone', name: 'c' });
      await store.create(tenant, zone('d'));
      waker.ring();
      expect([...(await cache.zones(tenant))].sort()).toEqual([['a', true], ['b', false], ['d', true]]);
      expect([...(await incremental.zones(tenant))].sort()).toEqual([['a', true], ['b', false], ['d', true]]);
      expect(lists).toBe(1);
      // Without a ring nothing is read again; once compaction has dropped the tombstones it needs, it reloads.
      await store.delete(tenant, { kind: 'Zone', name: 'd' });
      expect((await incremental.zones(tenant)).has('d')).toBe(true);
      await store.compact(tenant, new Date(Date.now() + 60_000));
      waker.ring();
      expect([...(await incremental.zones(tenant))].sort()).toEqual([['a', true], ['b', false]]);
      expect(lists).toBe(2);
      cache.close();
      incremental.close();
    });

    it('a zone-map update that read before a Zone change is not handed to callers after its doorbell', async () => {
      const tenant = freshTenant('feed-zones-race');
      const waker = new ManualWaker();
      const zone = (name: string, enabled = true) => ({ kind: 'Zone', mesh: '', name, labels: {}, spec: { enabled } });
      await store.create(tenant, zone('z', false));
      // Zone reads wait at a gate the test opens: the first update is held after it read (disabled).
      let hold: Promise<void> | undefined;
      const gated = new Proxy(store, {
        get: (s, k) => {
          const v = Reflect.get(s, k) as unknown;
          if (k !== 'changesSince' || typeof v !== 'function') return typeof v === 'function' ? v.bind(s) : v;
          return async (...args: Parameters<ResourceStore['changesSince']>) => {
            const page = await s.changesSince(...args);
            if (args[2]?.kinds?.length === 1 && args[2].kinds[0] === 'Zone' && hold) await hold;
            return page;
          };
        },
      });
      const cache = new FeedCache(gated, waker);
      expect((await cache.zones(tenant)).get('z')).toBe(false);
      await store.upsert(tenant, zone('other'));
      waker.ring();
      let open!: () => void;
      hold = new Promise<void>((r) => (open = r));
      const stale = cache.zones(tenant); // reads (z disabled) and waits at the gate
      await new Promise((r) => setTimeout(r, 50));
      await store.upsert(tenant, zone('z', true));
      waker.ring(); // the enabling's doorbell arrives while the first update is held
      const fresh = cache.zones(tenant);
      // Let the second caller reach the held update before it is released (it must not just take its answer).
      await new Promise((r) => setTimeout(r, 200));
      hold = undefined;
      open();
      await stale;
      expect((await fresh).get('z')).toBe(true);
      cache.close();
    });

    it(`answers as changesSince over ${SEQUENCES} random sequences of writes, deletes and resumes (seed ${SEED})`, async () => {
      const random = mulberry32(SEED);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      const names = ['a', 'b', 'c', 'd', 'e', 'f'];
      for (let seq = 0; seq < SEQUENCES; seq++) {
        const tenant = freshTenant('feed-prop');
        const waker = new ManualWaker();
        // Small bounds, so trimming the oldest entries and dropping superseded ones are exercised too.
        const maxChanges = 1 + Math.floor(random() * 12);
        const minCompact = 1 + Math.floor(random() * 4);
        const cache = new FeedCache(store, waker, { maxChanges, minCompact });
        const log: string[] = [`sequence ${seq}, maxChanges ${maxChanges}, minCompact ${minCompact}`];
        await store.create(tenant, meshTimeout('seed'));
        await cache.changesSince(tenant, 0, 10);
        for (let step = 0; step < STEPS; step++) {
          // One transaction of 1-3 operations: upserts of synced and unsynced kinds, deletes.
          const ops: WriteOp[] = [];
          const touched = new Set<string>();
          for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
            const name = pick(names);
            const kind = random() < 0.2 ? 'ZoneInsight' : 'MeshTimeout';
            if (touched.has(`${kind}/${name}`)) continue;
            touched.add(`${kind}/${name}`);
            if (random() < 0.3) ops.push({ op: 'delete', ifExists: true, key: kind === 'ZoneInsight' ? { kind, name } : { kind, mesh: 'default', name } });
            else if (kind === 'ZoneInsight') ops.push({ op: 'upsert', resource: { kind, name, labels: { step: String(step) }, spec: { subscriptions: [] } } });
            else ops.push({ op: 'upsert', resource: meshTimeout(name, { timeout: `${step + 1}s` }) });
          }
          await store.apply(tenant, ops);
          log.push(ops.map((o) => (o.op === 'delete' ? `-${o.key.kind}/${o.key.name}` : o.op === 'upsert' ? `+${o.resource.kind}/${o.resource.name}` : o.op)).join(' '));
          waker.ring();
          // Resume from a few cursors (some before what the cache holds), with small pages, as sessions do.
          const current = await store.currentRevision(tenant);
          for (let r = 0; r < 2; r++) {
            const cursor = Math.floor(random() * (current + 1));
            const limit = 1 + Math.floor(random() * 5);
            const fromCache = await cache.changesSince(tenant, cursor, limit);
            const fromStore = await store.changesSince(tenant, cursor, { limit, kinds: cache.kinds });
            expect(fromCache, `${log.join('\n')}\nresume from ${cursor}, limit ${limit}`).toEqual(fromStore);
          }
        }
        cache.close();
      }
    }, 180_000);
  });
}
