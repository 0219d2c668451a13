/**
 * The zone's side of KDS state, over its local store (PGlite under the data directory): applying what the
 * global sends, and reading the zone's own inventory to send up. The "last global revision applied"
 * cursor is written in the same transaction as the resources it covers, so a crash at any instant leaves
 * the two consistent: after a restart the zone resumes exactly where its data ends.
 */
import type { Delta, Rejection, ResourceKey } from '@ursa/proto/gen/kds.js';
import { sentToGlobal } from '@ursa/proto';
import { downwardRule, ORIGIN_LABEL, planBatch, replaceOwnedOps, type Resource, type ResourceStore, type WireResource } from '@ursa/core';

/** The zone agent's local tenant: the store is single-tenant there. */
export const LOCAL = 'local';
const CURSOR = 'global-revision';

/** A Delta from the global as it came off the wire (resources still encoded: decoding one may fail on its own). */
export type DownBatch = Pick<Delta, 'upserts' | 'removals' | 'revision' | 'baseRevision' | 'snapshot' | 'complete'>;

export interface InventoryPage {
  readonly upserts: WireResource[];
  readonly removals: ResourceKey[];
  /** Zone-local revision this page brings the global to. */
  readonly revision: number;
  readonly more: boolean;
  /** The global's cursor cannot be served incrementally: send a snapshot. */
  readonly resyncRequired: boolean;
}

const upKinds = () => sentToGlobal().map((d) => d.kind);
const isLocal = (r: { labels: Record<string, string> }) => r.labels[ORIGIN_LABEL] !== 'global';

export class ZoneSyncState {
  /** Snapshot chunks received so far, applied only when the `complete` chunk arrives. */
  #staged = new Map<string, WireResource>();
  #stagedRevision = -1;

  constructor(readonly store: ResourceStore) {}

  lastRevision(): Promise<number> {
    return this.store.cursor(LOCAL, CURSOR);
  }

  /** Everything up to `revision` is applied (the global said so in a heartbeat). */
  async advance(revision: number): Promise<void> {
    if (revision > (await this.lastRevision())) await this.store.setCursor(LOCAL, CURSOR, revision);
  }

  /**
   * Applies a batch from the global (`planBatch`, the rule both planes share): invalid resources are
   * rejected (and skipped); the rest is applied in one transaction with the cursor. A snapshot is staged
   * until complete, then replaces everything the global gave this zone: only then is anything missing from
   * it deleted.
   */
  async applyDown(batch: DownBatch): Promise<Rejection[]> {
    const rule = downwardRule();
    const plan = planBatch(batch, rule);
    if (!batch.snapshot) {
      await this.store.apply(LOCAL, plan.ops, {}, { cursor: { name: CURSOR, value: batch.revision } });
      return plan.rejections;
    }
    if (this.#stagedRevision !== batch.revision) {
      this.#staged.clear();
      this.#stagedRevision = batch.revision;
    }
    for (const r of plan.accepted) this.#staged.set(`${r.kind}/${r.mesh}/${r.name}`, r);
    if (!batch.complete) return plan.rejections;
    const held = await this.store.keysWithLabels(LOCAL, rule.ownedBy, rule.kinds);
    await this.store.apply(LOCAL, replaceOwnedOps([...this.#staged.values()], held), {}, { cursor: { name: CURSOR, value: batch.revision } });
    this.#staged = new Map();
    this.#stagedRevision = -1;
    return plan.rejections;
  }

  /** The zone's current local revision (its inventory's high-water mark). */
  inventoryRevision(): Promise<number> {
    return this.store.currentRevision(LOCAL);
  }

  /** Local inventory changes after `revision` (resources the zone owns, not copies from the global). */
  async inventorySince(revision: number, limit = 1000): Promise<InventoryPage> {
    const page = await this.store.changesSince(LOCAL, revision, { limit, kinds: upKinds() });
    const upserts: WireResource[] = [];
    const removals: ResourceKey[] = [];
    for (const c of page.changes) {
      if (c.op === 'upsert') {
        if (isLocal(c.resource)) upserts.push(wire(c.resource));
        else removals.push({ kind: c.resource.kind, mesh: c.resource.mesh, name: c.resource.name });
      } else {
        removals.push(c.key);
      }
    }
    return { upserts, removals, revision: page.revision, more: page.more, resyncRequired: page.resyncRequired };
  }

  /** One page of the zone's own inventory in key order, for a full upward snapshot. */
  async inventoryPage(after: ResourceKey | undefined, limit: number): Promise<{ resources: WireResource[]; last?: ResourceKey; done: boolean }> {
    const { resources } = await this.store.snapshotPage(LOCAL, { kinds: upKinds(), after, limit });
    const tail = resources[resources.length - 1];
    return {
      resources: resources.filter(isLocal).map(wire),
      last: tail ? { kind: tail.kind, mesh: tail.mesh, name: tail.name } : after,
      done: resources.length < limit,
    };
  }
}

/** What the KDS client needs from the zone's state (ZoneSyncState over the local store; benchmarks use a Map). */
export type SyncState = Pick<ZoneSyncState, 'lastRevision' | 'advance' | 'applyDown' | 'inventoryRevision' | 'inventorySince' | 'inventoryPage'>;

function wire(r: Resource): WireResource {
  return { kind: r.kind, mesh: r.mesh, name: r.name, labels: r.labels, spec: r.spec };
}
