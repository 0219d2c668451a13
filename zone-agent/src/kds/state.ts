/**
 * The zone's side of KDS state, over its local store (PGlite under the data directory): applying what the
 * global sends, and reading the zone's own inventory to send up. The "last global revision applied"
 * cursor is written in the same transaction as the resources it covers, so a crash at any instant leaves
 * the two consistent: after a restart the zone resumes exactly where its data ends.
 */
import type { Rejection, ResourceKey } from '@ursa/proto/gen/kds.js';
import { descriptorFor, sentToGlobal, sentToZones, validateResource } from '@ursa/proto';
import { ORIGIN_LABEL, type Resource, type ResourceStore, type WireResource, type WriteOp } from '@ursa/core';

/** The zone agent's local tenant: the store is single-tenant there. */
export const LOCAL = 'local';
const CURSOR = 'global-revision';

export interface DownBatch {
  readonly upserts: WireResource[];
  readonly removals: ResourceKey[];
  readonly revision: number;
  readonly baseRevision: number;
  readonly snapshot: boolean;
  readonly complete: boolean;
}

export interface InventoryPage {
  readonly upserts: WireResource[];
  readonly removals: ResourceKey[];
  /** Zone-local revision this page brings the global to. */
  readonly revision: number;
  readonly more: boolean;
  /** The global's cursor cannot be served incrementally: send a snapshot. */
  readonly resyncRequired: boolean;
}

const downKinds = () => sentToZones().map((d) => d.kind);
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
   * Applies a batch from the global. Invalid resources are rejected (and skipped); the rest is applied in
   * one transaction with the cursor. A snapshot is staged until complete, then replaces everything the
   * global gave this zone: only then is anything missing from it deleted.
   */
  async applyDown(batch: DownBatch): Promise<Rejection[]> {
    const rejections: Rejection[] = [];
    const valid: WireResource[] = [];
    for (const r of batch.upserts) {
      const desc = descriptorFor(r.kind);
      if (!desc || !downKinds().includes(r.kind)) {
        rejections.push({ key: { kind: r.kind, mesh: r.mesh, name: r.name }, reason: `type ${JSON.stringify(r.kind)} is not synced to zones` });
        continue;
      }
      const check = validateResource({ kind: r.kind, mesh: desc.scope === 'mesh' ? r.mesh : undefined, name: r.name, labels: r.labels, spec: r.spec });
      if (!check.ok) {
        rejections.push({ key: { kind: r.kind, mesh: r.mesh, name: r.name }, reason: check.violations.map((v) => `${v.field}: ${v.message}`).join('; ') });
        continue;
      }
      valid.push({ ...r, labels: { ...r.labels, [ORIGIN_LABEL]: 'global' } });
    }

    if (batch.snapshot) {
      if (this.#stagedRevision !== batch.revision) {
        this.#staged.clear();
        this.#stagedRevision = batch.revision;
      }
      for (const r of valid) this.#staged.set(`${r.kind}/${r.mesh}/${r.name}`, r);
      if (!batch.complete) return rejections;
      const keep = this.#staged;
      const ops: WriteOp[] = [...keep.values()].map((r) => ({ op: 'upsert', resource: r }));
      const held = await this.store.keysWithLabels(LOCAL, { [ORIGIN_LABEL]: 'global' }, downKinds());
      for (const k of held) if (!keep.has(`${k.kind}/${k.mesh}/${k.name}`)) ops.push({ op: 'delete', ifExists: true, key: k });
      await this.store.apply(LOCAL, ops, {}, { cursor: { name: CURSOR, value: batch.revision } });
      this.#staged = new Map();
      this.#stagedRevision = -1;
      return rejections;
    }

    const ops: WriteOp[] = valid.map((r) => ({ op: 'upsert', resource: r }));
    for (const k of batch.removals) {
      if (!descriptorFor(k.kind)) continue;
      // Only what the global gave: a zone's own resources are never removed by the global.
      ops.push({ op: 'delete', ifExists: true, ownedBy: { [ORIGIN_LABEL]: 'global' }, key: k });
    }
    await this.store.apply(LOCAL, ops, {}, { cursor: { name: CURSOR, value: batch.revision } });
    return rejections;
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

function wire(r: Resource): WireResource {
  return { kind: r.kind, mesh: r.mesh, name: r.name, labels: r.labels, spec: r.spec };
}
