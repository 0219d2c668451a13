/**
 * The snapshot cache: one immutable snapshot per node id, and one-shot watches (go-control-plane
 * `pkg/cache/v3/simple.go`). It knows nothing of gRPC, nonces or ACKs: the stream servers open a watch
 * with what the client has, and the cache answers it at once when the node's snapshot differs, or later
 * from `setSnapshot`. A watch answers once and is gone; the server opens the next one when the client
 * has acknowledged (flow control: at most one response in flight per type and stream).
 *
 * State of the world: a response's version is the version of exactly what it carries (the requested names
 * and their versions, or every name for a wildcard), so a client whose version equals it has all of it:
 * an update that does not touch what a client asked for sends it nothing.
 *
 * Incremental: the server keeps what the client has (`known`: name -> version; `''` = told it is absent),
 * and the answer is the difference: resources whose version changed or that are new, and the names to
 * remove.
 *
 * Cost: answering must not be O(resources) per proxy per change (2,000 proxies x 1,000 endpoints sets is
 * 2 million comparisons for one endpoint change). A SotW wildcard answer compares the set's own version.
 * A delta watch may name the set the client is in sync with (`base`, the set of the last response, while
 * the subscription is unchanged); the answer then only looks at the names that differ between `base` and
 * the new set (`changedNames`, computed once per pair of sets and shared by every proxy holding them).
 */
import { changedNames, PUSH_ORDER, type Snapshot, type TypeSet, type VersionedResource } from './snapshot.js';
import { versionOfSet } from './hash.js';

export interface SotwWatchRequest {
  readonly nodeId: string;
  readonly typeUrl: string;
  /** `'*'`: every resource of the type (wildcard). */
  readonly names: ReadonlySet<string> | '*';
  /** The version the client has (the last one sent to it on this stream); `''` = nothing yet. */
  readonly version: string;
  /**
   * Only for types whose SotW responses need not repeat unchanged resources (EDS, RDS, SDS: "the absence
   * of a resource does not mean its deletion", unlike LDS and CDS): the set of the last response, while the
   * client holds it (same names, no NACK since). The answer then carries only the resources that changed.
   */
  readonly base?: TypeSet;
  /**
   * The requested names in a canonical form (`namesKey`), computed once per subscription by the stream: the
   * version of a named request is then hashed once per set and name list, not once per proxy (2,000 Envoys
   * asking for the same 1,000 ClusterLoadAssignments by name cost 0.4 s per change otherwise).
   */
  readonly namesKey?: string;
}

/** The canonical form of a named subscription (sorted, one name per line). */
export function namesKey(names: ReadonlySet<string>): string {
  return [...names].sort().join('\n');
}

const namedVersions = new WeakMap<TypeSet, Map<string, string>>();

export interface SotwWatchResponse {
  readonly typeUrl: string;
  readonly version: string;
  /** In name order. */
  readonly resources: readonly VersionedResource[];
  /** The set this answer was computed from (the next watch's `base`, for types that allow it). */
  readonly set: TypeSet;
}

export interface DeltaWatchRequest {
  readonly nodeId: string;
  readonly typeUrl: string;
  /** Subscribed to every resource of the type. */
  readonly wildcard: boolean;
  /** Names subscribed explicitly (besides the wildcard). */
  readonly subscribed: ReadonlySet<string>;
  /** What the client has: name -> version, `''` for a name it was told does not exist. */
  readonly known: ReadonlyMap<string, string>;
  /**
   * The set of the last response on this subscription, when the client is known to hold exactly its
   * resources (of the names it wants): only names that differ from it need a look.
   */
  readonly base?: TypeSet;
}

export interface DeltaWatchResponse {
  readonly typeUrl: string;
  /** The version of the type's whole set (debugging only in delta xDS). */
  readonly systemVersion: string;
  /** New or changed resources, in name order. */
  readonly resources: readonly VersionedResource[];
  /** Names the client should drop (or learn do not exist), in order. */
  readonly removed: readonly string[];
  /** The set this answer brings the client in sync with (the next watch's `base`). */
  readonly set: TypeSet;
}

export type Cancel = () => void;

/** The SotW answer to a request, or undefined when the client already has it. */
export function sotwAnswer(snapshot: Snapshot, req: Omit<SotwWatchRequest, 'nodeId'>): SotwWatchResponse | undefined {
  const set = snapshot.get(req.typeUrl);
  const items = set.items;
  const versionOf = () => {
    if (req.names === '*') return set.version;
    const compute = (names: ReadonlySet<string>) => versionOfSet([...names].sort().map((n) => [n, items.get(n)?.version] as const));
    if (req.namesKey === undefined) return compute(req.names);
    let memo = namedVersions.get(set);
    if (!memo) namedVersions.set(set, (memo = new Map()));
    let v = memo.get(req.namesKey);
    if (v === undefined) memo.set(req.namesKey, (v = compute(req.names)));
    return v;
  };
  if (req.base) {
    // Only what changed and still exists (a removal is implicit for these types: the parent drops it).
    const wanted = req.names;
    const changed = changedNames(req.base, set).filter((n) => (wanted === '*' || wanted.has(n)) && items.has(n));
    if (changed.length === 0) return undefined;
    return { typeUrl: req.typeUrl, version: versionOf(), resources: changed.map((n) => items.get(n)!), set };
  }
  let resources: VersionedResource[];
  let version: string;
  if (req.names === '*') {
    // The set's own version: a content hash of every name and version, computed once per set.
    version = set.version;
    if (version === req.version) return undefined;
    resources = [...items.values()];
  } else {
    resources = [...req.names].sort().flatMap((n) => items.get(n) ?? []);
    version = versionOf();
  }
  return version === req.version ? undefined : { typeUrl: req.typeUrl, version, resources, set };
}

/** The delta answer to a request, or undefined when the client is up to date. */
export function deltaAnswer(snapshot: Snapshot, req: Omit<DeltaWatchRequest, 'nodeId'>): DeltaWatchResponse | undefined {
  const set = snapshot.get(req.typeUrl);
  const items = set.items;
  if (req.base) {
    const resources: VersionedResource[] = [];
    const removed: string[] = [];
    for (const name of changedNames(req.base, set)) {
      if (!req.wildcard && !req.subscribed.has(name)) continue;
      const item = items.get(name);
      const has = req.known.get(name);
      if (item) {
        if (has !== item.version) resources.push(item);
      } else if (has !== undefined && has !== '') removed.push(name);
    }
    if (resources.length === 0 && removed.length === 0) return undefined;
    return { typeUrl: req.typeUrl, systemVersion: set.version, resources, removed, set };
  }
  const names = new Set<string>([...req.subscribed, ...req.known.keys()]);
  if (req.wildcard) for (const n of items.keys()) names.add(n);
  const resources: VersionedResource[] = [];
  const removed: string[] = [];
  for (const name of [...names].sort()) {
    const item = items.get(name);
    const has = req.known.get(name);
    const wanted = req.wildcard || req.subscribed.has(name);
    if (item) {
      if (wanted && has !== item.version) resources.push(item);
    } else if ((has !== undefined && has !== '') || (has === undefined && req.subscribed.has(name))) {
      // The client has it and it is gone, or asked for a name that does not exist: say so at once.
      removed.push(name);
    }
  }
  if (resources.length === 0 && removed.length === 0) return undefined;
  return { typeUrl: req.typeUrl, systemVersion: set.version, resources, removed, set };
}

interface Watch<Req, Res> {
  readonly req: Req;
  readonly respond: (res: Res) => void;
}

export class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly sotw = new Map<string, Set<Watch<SotwWatchRequest, SotwWatchResponse>>>();
  private readonly delta = new Map<string, Set<Watch<DeltaWatchRequest, DeltaWatchResponse>>>();

  /**
   * Sets a node's snapshot and answers its open watches that it changes, type by type in push order
   * (CDS, EDS, LDS, RDS), so each stream gets clusters before the listeners that use them.
   */
  setSnapshot(nodeId: string, snapshot: Snapshot): void {
    this.snapshots.set(nodeId, snapshot);
    const order = (typeUrl: string) => {
      const i = PUSH_ORDER.indexOf(typeUrl);
      return i < 0 ? PUSH_ORDER.length : i;
    };
    const pending: { order: number; fire: () => void }[] = [];
    for (const w of this.sotw.get(nodeId) ?? []) {
      const res = sotwAnswer(snapshot, w.req);
      if (res) pending.push({ order: order(w.req.typeUrl), fire: () => this.fire(this.sotw, nodeId, w, res) });
    }
    for (const w of this.delta.get(nodeId) ?? []) {
      const res = deltaAnswer(snapshot, w.req);
      if (res) pending.push({ order: order(w.req.typeUrl), fire: () => this.fire(this.delta, nodeId, w, res) });
    }
    // Stable sort: watches of one type keep their opening order.
    pending.sort((a, b) => a.order - b.order);
    for (const p of pending) p.fire();
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId);
  }

  /** Forgets a node's snapshot (its open watches stay open, waiting for a new one). */
  clearSnapshot(nodeId: string): void {
    this.snapshots.delete(nodeId);
  }

  /** Node ids with a snapshot. */
  nodeIds(): string[] {
    return [...this.snapshots.keys()];
  }

  /** Open watches (both kinds) of a node, for tests and status. */
  watchCount(nodeId: string): number {
    return (this.sotw.get(nodeId)?.size ?? 0) + (this.delta.get(nodeId)?.size ?? 0);
  }

  /**
   * Answers `respond` now (synchronously) when the node's snapshot differs from what the request says the
   * client has, else when a later `setSnapshot` does. The returned function cancels a watch still open.
   */
  createWatch(req: SotwWatchRequest, respond: (res: SotwWatchResponse) => void): Cancel {
    const snap = this.snapshots.get(req.nodeId);
    const res = snap && sotwAnswer(snap, req);
    if (res) {
      respond(res);
      return () => {};
    }
    return this.open(this.sotw, req.nodeId, { req, respond });
  }

  /** The incremental counterpart of `createWatch`. */
  createDeltaWatch(req: DeltaWatchRequest, respond: (res: DeltaWatchResponse) => void): Cancel {
    const snap = this.snapshots.get(req.nodeId);
    const res = snap && deltaAnswer(snap, req);
    if (res) {
      respond(res);
      return () => {};
    }
    return this.open(this.delta, req.nodeId, { req, respond });
  }

  private open<Req, Res>(table: Map<string, Set<Watch<Req, Res>>>, nodeId: string, w: Watch<Req, Res>): Cancel {
    let set = table.get(nodeId);
    if (!set) table.set(nodeId, (set = new Set()));
    set.add(w);
    return () => this.remove(table, nodeId, w);
  }

  private remove<Req, Res>(table: Map<string, Set<Watch<Req, Res>>>, nodeId: string, w: Watch<Req, Res>): void {
    const set = table.get(nodeId);
    if (!set?.delete(w)) return;
    if (set.size === 0) table.delete(nodeId);
  }

  private fire<Req, Res>(table: Map<string, Set<Watch<Req, Res>>>, nodeId: string, w: Watch<Req, Res>, res: Res): void {
    // A watch answers once; one already cancelled (by an earlier response's side effects) stays silent.
    if (!table.get(nodeId)?.has(w)) return;
    this.remove(table, nodeId, w);
    w.respond(res);
  }
}
