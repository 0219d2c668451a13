/**
 * Snapshots from the main process to an xDS serving process (`children.ts` → `child.ts`), each shared part
 * once. Snapshots, `TypeSet`s and `VersionedResource`s are immutable and shared between nodes (2,000 sidecars
 * of a mesh hold one EDS set), so a child gets each set once, by id, with each resource's bytes once, by id;
 * per node only the ids of its sets. The child rebuilds one object per id, so identity survives the process
 * boundary: `changedNames(base, set)` (memoised per pair of set objects) and the encode-once memos of
 * `encoded.ts` (per set and per resource object) work there as in one process.
 *
 * Both sides count references the same way (a node holds its sets, a layered set its two layers, a plain set
 * its resources), the sender decides and says which sets die (`release`), the receiver drops them and the
 * resources no live set holds any more: a child's memory follows its nodes' snapshots, not their history.
 */
import { Snapshot, type TypeSet, type VersionedResource } from '../snapshot.js';
import { layeredTypeSet } from '../snapshot.js';

/** A resource the child does not have yet: `[id, name, version, bytes, typeUrl]`; one it has: `[id]`. */
export type ShippedItem = readonly [number] | readonly [number, string, string, Uint8Array, string];

export interface ShippedSet {
  readonly id: number;
  readonly version: string;
  /** A layered set (`layeredTypeSet`): the ids of its two layers, shipped before it. */
  readonly layers?: readonly [number, number];
  /** A plain set: its resources, in name order. */
  readonly items?: readonly ShippedItem[];
}

/** One batch: new sets first, then node updates (`null`: the node is gone), then sets no node holds any more. */
export interface MirrorBatch {
  readonly sets: ShippedSet[];
  /** `[node id, [typeUrl, set id, typeUrl, set id, ...]]`, or `[node id, null]`. */
  readonly nodes: [string, (string | number)[] | null][];
  readonly release: number[];
}

// Ids are per object for the whole process: every child knows an object by the same id.
const setIds = new WeakMap<TypeSet, number>();
const resourceIds = new WeakMap<VersionedResource, number>();
let nextId = 0;
const idOf = <K extends object>(map: WeakMap<K, number>, k: K): number => {
  let id = map.get(k);
  if (id === undefined) map.set(k, (id = ++nextId));
  return id;
};

/** The main process's view of what one child holds: which nodes, sets and resources, and their counts. */
export class MirrorSender {
  private readonly sets = new Map<number, { readonly set: TypeSet; refs: number }>();
  private readonly resources = new Map<number, number>();
  /** Per node the child holds: its sets' ids. */
  private readonly held = new Map<string, number[]>();
  private readonly dirty = new Set<string>();

  /** The node's snapshot may have changed (or gone): the next `batch` brings the child up to date. */
  touch(nodeId: string): void {
    this.dirty.add(nodeId);
  }

  get pending(): boolean {
    return this.dirty.size > 0;
  }

  /** Sets held (for tests and status). */
  get setCount(): number {
    return this.sets.size;
  }

  get resourceCount(): number {
    return this.resources.size;
  }

  /**
   * What the child needs for the nodes touched since the last batch: `snapshotOf` gives a node's current
   * snapshot, undefined when the child should no longer hold it (no stream there, or no snapshot).
   */
  batch(snapshotOf: (nodeId: string) => Snapshot | undefined): MirrorBatch | undefined {
    if (this.dirty.size === 0) return undefined;
    const out: MirrorBatch = { sets: [], nodes: [], release: [] };
    const dropped: number[] = [];
    for (const node of this.dirty) {
      const snap = snapshotOf(node);
      const old = this.held.get(node);
      if (!snap) {
        if (old) {
          this.held.delete(node);
          out.nodes.push([node, null]);
          dropped.push(...old);
        }
        continue;
      }
      const pairs: (string | number)[] = [];
      const ids: number[] = [];
      for (const t of snap.types()) {
        const id = this.ref(snap.get(t), out.sets);
        pairs.push(t, id);
        ids.push(id);
      }
      this.held.set(node, ids);
      out.nodes.push([node, pairs]);
      if (old) dropped.push(...old);
    }
    this.dirty.clear();
    // After the new references: a set both in the old and the new snapshot stays.
    for (const id of dropped) this.unref(id, out.release);
    return out.sets.length + out.nodes.length + out.release.length > 0 ? out : undefined;
  }

  /** The child is gone: it holds nothing (a new one starts empty). */
  reset(): void {
    this.sets.clear();
    this.resources.clear();
    this.held.clear();
    this.dirty.clear();
  }

  private ref(set: TypeSet, shipped: ShippedSet[]): number {
    const id = idOf(setIds, set);
    const e = this.sets.get(id);
    if (e) {
      e.refs++;
      return id;
    }
    if (set.layers) {
      const layers = [this.ref(set.layers[0], shipped), this.ref(set.layers[1], shipped)] as const;
      shipped.push({ id, version: set.version, layers });
    } else {
      const items: ShippedItem[] = [];
      for (const r of set.items.values()) {
        const rid = idOf(resourceIds, r);
        const n = this.resources.get(rid);
        this.resources.set(rid, (n ?? 0) + 1);
        items.push(n === undefined ? [rid, r.name, r.version, r.body.value, r.body.typeUrl] : [rid]);
      }
      shipped.push({ id, version: set.version, items });
    }
    this.sets.set(id, { set, refs: 1 });
    return id;
  }

  private unref(id: number, released: number[]): void {
    const e = this.sets.get(id);
    if (!e || --e.refs > 0) return;
    this.sets.delete(id);
    released.push(id);
    if (e.set.layers) {
      this.unref(idOf(setIds, e.set.layers[0]), released);
      this.unref(idOf(setIds, e.set.layers[1]), released);
    } else {
      for (const r of e.set.items.values()) {
        const rid = idOf(resourceIds, r);
        const n = this.resources.get(rid)! - 1;
        if (n === 0) this.resources.delete(rid);
        else this.resources.set(rid, n);
      }
    }
  }
}

/** The child's side: rebuilds one object per id and applies a batch's node updates to its snapshots. */
export class MirrorReceiver {
  private readonly sets = new Map<number, { readonly set: TypeSet; readonly rids?: readonly number[] }>();
  private readonly resources = new Map<number, { readonly r: VersionedResource; refs: number }>();

  get setCount(): number {
    return this.sets.size;
  }

  get resourceCount(): number {
    return this.resources.size;
  }

  /** Applies a batch; `onNode` gets each updated node's snapshot (undefined: dropped), in the batch's order. */
  apply(batch: MirrorBatch, onNode: (nodeId: string, snapshot: Snapshot | undefined) => void): void {
    for (const s of batch.sets) this.add(s);
    for (const [node, pairs] of batch.nodes) {
      if (!pairs) {
        onNode(node, undefined);
        continue;
      }
      const byType = new Map<string, TypeSet>();
      for (let i = 0; i < pairs.length; i += 2) byType.set(pairs[i] as string, this.get(pairs[i + 1] as number));
      onNode(node, Snapshot.fromSets(byType));
    }
    for (const id of batch.release) this.drop(id);
  }

  private get(id: number): TypeSet {
    const e = this.sets.get(id);
    if (!e) throw new Error(`xds mirror: set ${id} was never received (main and serving process disagree)`);
    return e.set;
  }

  private add(s: ShippedSet): void {
    if (s.layers) {
      const set = layeredTypeSet(this.get(s.layers[0]), this.get(s.layers[1]));
      this.sets.set(s.id, { set });
      return;
    }
    const items = new Map<string, VersionedResource>();
    const rids: number[] = [];
    for (const item of s.items ?? []) {
      const rid = item[0];
      let e = this.resources.get(rid);
      if (item.length > 1) {
        const [, name, version, bytes, typeUrl] = item as readonly [number, string, string, Uint8Array, string];
        const value = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        e = { r: Object.freeze({ name, version, body: Object.freeze({ typeUrl, value }) }), refs: 0 };
        this.resources.set(rid, e);
      }
      if (!e) throw new Error(`xds mirror: resource ${rid} was never received (main and serving process disagree)`);
      e.refs++;
      rids.push(rid);
      items.set(e.r.name, e.r);
    }
    this.sets.set(s.id, { set: Object.freeze({ version: s.version, items }), rids });
  }

  private drop(id: number): void {
    const e = this.sets.get(id);
    if (!e) return;
    this.sets.delete(id);
    for (const rid of e.rids ?? []) {
      const r = this.resources.get(rid)!;
      if (--r.refs === 0) this.resources.delete(rid);
    }
  }
}
