/**
 * One reader of the change feed per tenant per process, shared by every KDS session of that tenant. When a
 * change wakes 1,000 sessions, the database answers one `changesSince` instead of 1,000, and each change is
 * encoded for the wire once. It is only a cache of the database: a session whose cursor is older than what
 * the cache holds reads the database itself, and a cache lost with its process costs nothing.
 *
 * It answers exactly as `ResourceStore.changesSince` would: each key once, in its latest state. The cache
 * appends pages as they come, so a key written again leaves its older entry behind; that entry is
 * superseded and never served (a zone resuming from before both gets only the newer one). Serving it would
 * replay history, and a superseded version that cannot be delivered (too large) would be served forever.
 */
import { sentToZones } from '@ursa/proto';
import type { Change, ChangesPage, ResourceStore, Waker } from '@ursa/core';

/** Changes kept per tenant; older cursors fall back to the database. */
const MAX_CHANGES = 50_000;
/** Superseded entries are dropped once they are this many and at least as many as the live ones. */
const MIN_COMPACT = 1024;
/** Even without a wake-up, a read at most this old is refreshed (a missed NOTIFY costs this much). */
const MAX_STALE_MS = 1_000;

interface TenantFeed {
  /** Changes with revision in (from, to], ascending; some superseded by a later entry of the same key. */
  changes: Change[];
  /** Key -> revision of its latest entry in `changes`: an entry is live iff it is its key's latest. */
  latest: Map<string, number>;
  /** Superseded entries still in `changes`. */
  dead: number;
  from: number;
  to: number;
  /** Bumped by every wake-up; a refresh started at generation g covers all changes rung before g. */
  dirty: number;
  fetched: number;
  fetchedAt: number;
  refreshing?: Promise<void>;
  zones?: Map<string, boolean>;
  /** The revision `zones` is current at: Zone changes after it are applied to it incrementally. */
  zonesRevision: number;
  /** Bumped by every Zone doorbell. */
  zonesGen: number;
  /** The doorbell generation `zones` is known to cover (an update started at generation g covers g). */
  zonesFresh: number;
  /** A zone-map update in progress and the generation it started at; shared only by callers of that generation. */
  zonesLoading?: Promise<Map<string, boolean>>;
  zonesLoadingGen: number;
  unsubscribe: () => void;
}

const keyOf = (c: Change): string => {
  const k = c.op === 'upsert' ? c.resource : c.key;
  return `${k.kind}\u0000${k.mesh}\u0000${k.name}`;
};

export class FeedCache {
  #tenants = new Map<string, TenantFeed>();
  readonly kinds: string[];
  readonly #maxChanges: number;
  readonly #minCompact: number;

  /** `maxChanges` and `minCompact` default to MAX_CHANGES and MIN_COMPACT; tests make them small. */
  constructor(
    private readonly store: ResourceStore,
    private readonly waker: Waker,
    opts: { maxChanges?: number; minCompact?: number } = {},
  ) {
    this.kinds = sentToZones().map((d) => d.kind);
    this.#maxChanges = opts.maxChanges ?? MAX_CHANGES;
    this.#minCompact = opts.minCompact ?? MIN_COMPACT;
  }

  #feed(tenant: string): TenantFeed {
    let t = this.#tenants.get(tenant);
    if (!t) {
      t = { changes: [], latest: new Map(), dead: 0, from: -1, to: -1, dirty: 1, fetched: 0, fetchedAt: 0, zonesRevision: 0, zonesGen: 1, zonesFresh: 0, zonesLoadingGen: 0, unsubscribe: () => {} };
      const feed = t;
      feed.unsubscribe = this.waker.subscribe(tenant, (kind) => {
        if (kind === '*' || this.kinds.includes(kind)) feed.dirty++;
        if (kind === 'Zone' || kind === '*') feed.zonesGen++;
      });
      this.#tenants.set(tenant, t);
    }
    return t;
  }

  async #refresh(tenant: string, t: TenantFeed): Promise<void> {
    const stale = Date.now() - t.fetchedAt > MAX_STALE_MS;
    if (t.fetched >= t.dirty && !stale) return;
    if (t.refreshing) {
      await t.refreshing;
      if (t.fetched >= t.dirty) return;
    }
    const gen = t.dirty;
    t.refreshing = (async () => {
      if (t.to < 0) {
        // First use: start at the current revision; older cursors go to the database.
        t.to = t.from = await this.store.currentRevision(tenant);
      }
      for (;;) {
        const page = await this.store.changesSince(tenant, t.to, { limit: 5000, kinds: this.kinds });
        if (page.resyncRequired) {
          t.changes = [];
          t.latest.clear();
          t.dead = 0;
          t.to = t.from = await this.store.currentRevision(tenant);
          break;
        }
        for (const c of page.changes) {
          const key = keyOf(c);
          if (t.latest.has(key)) t.dead++;
          t.latest.set(key, c.revision);
          t.changes.push(c);
        }
        t.to = page.revision;
        if (!page.more) break;
      }
      this.#compact(t);
      t.fetched = gen;
      t.fetchedAt = Date.now();
    })().finally(() => {
      t.refreshing = undefined;
    });
    await t.refreshing;
  }

  /** Drops superseded entries once they are many, then the oldest entries beyond the cap. */
  #compact(t: TenantFeed): void {
    if (t.dead >= this.#minCompact && t.dead * 2 >= t.changes.length) {
      t.changes = t.changes.filter((c) => t.latest.get(keyOf(c)) === c.revision);
      t.dead = 0;
    }
    const live = t.changes.length - t.dead;
    if (live <= this.#maxChanges) return;
    // Drop from the front until at most the cap of live entries remain; cursors before `from` go to the store.
    let drop = 0;
    for (let dropLive = live - this.#maxChanges; dropLive > 0; drop++) {
      const c = t.changes[drop]!;
      const key = keyOf(c);
      if (t.latest.get(key) === c.revision) {
        t.latest.delete(key);
        dropLive--;
      } else t.dead--;
    }
    t.from = t.changes[drop - 1]!.revision;
    t.changes = t.changes.slice(drop);
  }

  /** Same contract (and answers) as `ResourceStore.changesSince`, for the KDS kinds. */
  async changesSince(tenant: string, cursor: number, limit: number): Promise<ChangesPage> {
    const t = this.#feed(tenant);
    await this.#refresh(tenant, t);
    if (cursor < t.from || cursor > t.to) return this.store.changesSince(tenant, cursor, { limit, kinds: this.kinds });
    // Binary search the first change after the cursor.
    let lo = 0;
    let hi = t.changes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (t.changes[mid]!.revision <= cursor) lo = mid + 1;
      else hi = mid;
    }
    // Live entries only, as the store has one row per key at its latest revision.
    const page: Change[] = [];
    let more = false;
    for (let i = lo; i < t.changes.length; i++) {
      const c = t.changes[i]!;
      if (t.latest.get(keyOf(c)) !== c.revision) continue;
      if (page.length === limit) {
        more = true;
        break;
      }
      page.push(c);
    }
    return { changes: page, revision: more ? page[page.length - 1]!.revision : t.to, more, resyncRequired: false };
  }

  /**
   * Zone name -> enabled. Loaded once from a snapshot of the Zones, then brought up to date with the Zone
   * changes since (one small feed read per wake-up, shared by every session), not reloaded: when 10,000 zones
   * connect, each first connect creates a Zone, and reloading every Zone on each would be quadratic.
   * The map is updated in place; callers read it synchronously between awaits.
   */
  async zones(tenant: string): Promise<Map<string, boolean>> {
    const t = this.#feed(tenant);
    await this.#refresh(tenant, t);
    for (;;) {
      if (t.zones && t.zonesFresh >= t.zonesGen) return t.zones;
      // An update that started before the latest doorbell may have read before that change: not shared.
      if (t.zonesLoading && t.zonesLoadingGen === t.zonesGen) return t.zonesLoading;
      if (t.zonesLoading) {
        await t.zonesLoading.catch(() => {});
        continue;
      }
      const gen = t.zonesGen;
      t.zonesLoadingGen = gen;
      t.zonesLoading = this.#updateZones(tenant, t)
        .then((map) => {
          t.zonesFresh = Math.max(t.zonesFresh, gen);
          return map;
        })
        .finally(() => {
          t.zonesLoading = undefined;
        });
      return t.zonesLoading;
    }
  }

  async #updateZones(tenant: string, t: TenantFeed): Promise<Map<string, boolean>> {
    if (!t.zones) return this.#loadZones(tenant, t);
    let revision = t.zonesRevision;
    for (;;) {
      const page = await this.store.changesSince(tenant, revision, { limit: 5000, kinds: ['Zone'] });
      if (page.resyncRequired) return this.#loadZones(tenant, t);
      for (const c of page.changes) {
        if (c.op === 'upsert') t.zones.set(c.resource.name, c.resource.spec.enabled !== false);
        else t.zones.delete(c.key.name);
      }
      revision = page.revision;
      if (!page.more) break;
    }
    t.zonesRevision = revision;
    return t.zones;
  }

  async #loadZones(tenant: string, t: TenantFeed): Promise<Map<string, boolean>> {
    const snap = await this.store.snapshot(tenant, { kinds: ['Zone'] });
    t.zones = new Map(snap.resources.map((z) => [z.name, z.spec.enabled !== false]));
    t.zonesRevision = snap.revision;
    return t.zones;
  }

  close(): void {
    for (const t of this.#tenants.values()) t.unsubscribe();
    this.#tenants.clear();
  }
}
