/**
 * One reader of the change feed per tenant per process, shared by every KDS session of that tenant. When a
 * change wakes 1,000 sessions, the database answers one `changesSince` instead of 1,000, and each change is
 * encoded for the wire once. It is only a cache of the database: a session whose cursor is older than what
 * the cache holds reads the database itself, and a cache lost with its process costs nothing.
 */
import { sentToZones } from '@ursa/proto';
import type { Change, ChangesPage, ResourceStore, Waker } from '@ursa/core';

/** Changes kept per tenant; older cursors fall back to the database. */
const MAX_CHANGES = 50_000;
/** Even without a wake-up, a read at most this old is refreshed (a missed NOTIFY costs this much). */
const MAX_STALE_MS = 1_000;

interface TenantFeed {
  /** Changes with revision in (from, to], ascending. */
  changes: Change[];
  from: number;
  to: number;
  /** Bumped by every wake-up; a refresh started at generation g covers all changes rung before g. */
  dirty: number;
  fetched: number;
  fetchedAt: number;
  refreshing?: Promise<void>;
  zones?: Map<string, boolean>;
  /** A zone-map load in progress, shared by every session asking meanwhile. */
  zonesLoading?: Promise<Map<string, boolean>>;
  /** Bumped whenever the zone map is invalidated, so a load that raced a change is not kept. */
  zonesGen: number;
  unsubscribe: () => void;
}

export class FeedCache {
  #tenants = new Map<string, TenantFeed>();
  readonly kinds: string[];

  constructor(
    private readonly store: ResourceStore,
    private readonly waker: Waker,
  ) {
    this.kinds = sentToZones().map((d) => d.kind);
  }

  #feed(tenant: string): TenantFeed {
    let t = this.#tenants.get(tenant);
    if (!t) {
      t = { changes: [], from: -1, to: -1, dirty: 1, fetched: 0, fetchedAt: 0, zonesGen: 0, unsubscribe: () => {} };
      const feed = t;
      feed.unsubscribe = this.waker.subscribe(tenant, (kind) => {
        if (kind === '*' || this.kinds.includes(kind)) feed.dirty++;
        if (kind === 'Zone' || kind === '*') this.#dropZones(feed);
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
          t.to = t.from = await this.store.currentRevision(tenant);
          break;
        }
        t.changes.push(...page.changes);
        t.to = page.revision;
        if (!page.more) break;
      }
      if (t.changes.length > MAX_CHANGES) {
        const drop = t.changes.length - MAX_CHANGES;
        t.from = t.changes[drop - 1]!.revision;
        t.changes = t.changes.slice(drop);
      }
      t.fetched = gen;
      t.fetchedAt = Date.now();
    })().finally(() => {
      t.refreshing = undefined;
    });
    await t.refreshing;
  }

  /** Same contract as `ResourceStore.changesSince`, for the KDS kinds. */
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
    const page = t.changes.slice(lo, lo + limit);
    const more = lo + limit < t.changes.length;
    return { changes: page, revision: more ? page[page.length - 1]!.revision : t.to, more, resyncRequired: false };
  }

  /** Zone name -> enabled, cached until a Zone changes. */
  async zones(tenant: string): Promise<Map<string, boolean>> {
    const t = this.#feed(tenant);
    await this.#refresh(tenant, t);
    if (t.zones) return t.zones;
    const gen = t.zonesGen;
    t.zonesLoading ??= this.store
      .list(tenant, 'Zone', { limit: 1_000_000 })
      .then(({ items }) => {
        const map = new Map(items.map((z) => [z.name, z.spec.enabled !== false]));
        if (t.zonesGen === gen) t.zones = map;
        return map;
      })
      .finally(() => {
        if (t.zonesGen === gen) t.zonesLoading = undefined;
      });
    return t.zonesLoading;
  }

  #dropZones(t: TenantFeed): void {
    t.zones = undefined;
    t.zonesLoading = undefined;
    t.zonesGen++;
  }

  close(): void {
    for (const t of this.#tenants.values()) t.unsubscribe();
    this.#tenants.clear();
  }
}
