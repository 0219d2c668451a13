/**
 * Which connected nodes a generation must visit (issue 15: "the generator's cost per change follows the
 * proxies that can reach the changed service"). Visiting an unchanged node is cheap (an identity check of
 * its parts) but at 10,000 proxies those checks were most of a change's cost; this plan lets a pass after
 * a Dataplane change visit only the nodes whose snapshot could differ.
 *
 * The plan diffs this generation's input against the previous one by object identity (the store view keeps
 * an unchanged resource the same object, `store-view.ts`):
 * - a full pass (every node) on the first generation, on any change to a Mesh, policy, Secret, ZoneIngress,
 *   ZoneEgress, MeshExternalService or the VIP table (these feed every proxy of a mesh: its epoch, CA,
 *   DNS listener, remote endpoints), when a workload certificate is due for renewal, and now and then
 *   (`FULL_EVERY_*`) so that what no node uses any more is swept from the memo;
 * - otherwise (only Dataplanes changed, or nothing): the new nodes, the nodes that got no snapshot last time
 *   (retried), the nodes of the changed Dataplanes, the nodes listing one of those Dataplanes' services
 *   (old and new version) in `reachableServices`, and every node whose snapshot may depend on any service
 *   of its mesh (sidecars without `reachableServices`, proxyless clients, zone ingresses and egresses).
 *
 * A Dataplane feeds other proxies only through its services (endpoints, protocol, inbound ports: all keyed
 * by service in `mesh-inputs.ts`), so those are the nodes whose inputs can change.
 */
import { sameVips } from '../../dns/vip-board.js';
import { dataplaneOf, type DataplaneResource } from '../../model/dataplane.js';
import type { DataplaneChange } from './mesh-inputs-delta.js';
import type { GenerationInput } from './types.js';

/** A full pass at least this often (passes, or milliseconds), to sweep the memo of replaced resources. */
const FULL_EVERY_PASSES = 256;
const FULL_EVERY_MS = 5 * 60_000;

export type VisitPlan = { readonly full: true; readonly why: string } | { readonly full: false; readonly visit: ReadonlySet<string>; readonly changed: readonly DataplaneChange[] };

/** What a visited node's snapshot depends on beyond its own Dataplane. */
export type NodeReach = { readonly mesh: string; readonly services: readonly string[] } | 'any';

interface Seen {
  readonly meshes: GenerationInput['meshes'];
  readonly policies: GenerationInput['policies'];
  readonly secrets: GenerationInput['secrets'];
  readonly zoneIngresses: GenerationInput['zoneIngresses'];
  readonly zoneEgresses: NonNullable<GenerationInput['zoneEgresses']>;
  readonly externalServices: NonNullable<GenerationInput['externalServices']>;
  readonly vips: GenerationInput['vips'];
}

const dpKey = (mesh: string, name: string) => `${mesh}\u0000${name}`;
const EMPTY: readonly never[] = [];

export class VisitPlanner {
  private seen: Seen | undefined;
  /** Nodes visited before with what they depend on (absent: never visited, or forgotten). */
  private readonly reachOf = new Map<string, NodeReach>();
  /** `mesh\0service` -> nodes listing it in `reachableServices`. */
  private readonly byService = new Map<string, Set<string>>();
  /** Nodes that depend on any service of their mesh. */
  private readonly anyService = new Set<string>();
  /** Nodes that got no snapshot last time (a skip or a failure): visited again. */
  private readonly retry = new Set<string>();
  /** `mesh\0name` of a Dataplane -> the visited nodes of it, and back. */
  private readonly nodesOfDp = new Map<string, Set<string>>();
  private readonly dpOf = new Map<string, string>();
  private readonly dataplanes = new DataplaneDiff();
  private passesSinceFull = 0;
  private lastFull = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The plan for this generation, and the input to generate from: the previous VIP table object when its
   * content is the same (what is memoised per table, such as the DNS listener's body, is then reused).
   */
  plan(input: GenerationInput, nodes: readonly { readonly id: string; readonly mesh: string; readonly name: string }[], certRenewalDue: boolean): { plan: VisitPlan; input: GenerationInput } {
    const prev = this.seen;
    const vips = prev && sameVips(prev.vips, input.vips) ? prev.vips : input.vips;
    if (vips !== input.vips) input = { ...input, vips };
    const diff = this.dataplanes.diff(input.dataplanes);
    this.seen = {
      meshes: input.meshes,
      policies: input.policies,
      secrets: input.secrets,
      zoneIngresses: input.zoneIngresses,
      zoneEgresses: input.zoneEgresses ?? EMPTY,
      externalServices: input.externalServices ?? EMPTY,
      vips,
    };
    const why = !prev
      ? 'first generation'
      : !sameList(prev.meshes, input.meshes)
        ? 'a Mesh changed'
        : !sameList(prev.policies, input.policies)
          ? 'a policy changed'
          : !sameList(prev.secrets, input.secrets)
            ? 'a Secret changed'
            : !sameList(prev.zoneIngresses, input.zoneIngresses)
              ? 'a ZoneIngress changed'
              : !sameList(prev.zoneEgresses, input.zoneEgresses ?? EMPTY)
                ? 'a ZoneEgress changed'
                : !sameList(prev.externalServices, input.externalServices ?? EMPTY)
                  ? 'a MeshExternalService changed'
                  : prev.vips !== vips
                    ? 'the VIP table changed'
                    : certRenewalDue
                      ? 'a certificate is due for renewal'
                      : this.passesSinceFull >= FULL_EVERY_PASSES || this.now() - this.lastFull >= FULL_EVERY_MS
                        ? 'periodic full pass'
                        : undefined;
    if (why !== undefined) {
      this.passesSinceFull = 0;
      this.lastFull = this.now();
      return { plan: { full: true, why }, input };
    }
    this.passesSinceFull++;
    const visit = new Set<string>(this.retry);
    // Nodes never visited: new connections.
    for (const n of nodes) if (!this.reachOf.has(n.id)) visit.add(n.id);
    // Changed, added and removed Dataplanes: their own nodes, and whoever can reach their services.
    const services = new Set<string>();
    const changed = (dp: DataplaneResource) => {
      for (const id of this.nodesOfDp.get(dpKey(dp.mesh, dp.name)) ?? EMPTY) visit.add(id);
      for (const ib of dataplaneOf(dp).inbounds) if (ib.service !== '') services.add(dpKey(dp.mesh, ib.service));
    };
    for (const c of diff) {
      if (c.after) changed(c.after);
      if (c.before) changed(c.before);
    }
    // Any Dataplane change, even one without services (a gateway), may matter to those that read them all.
    if (diff.length > 0) for (const id of this.anyService) visit.add(id);
    for (const s of services) for (const id of this.byService.get(s) ?? EMPTY) visit.add(id);
    return { plan: { full: false, visit, changed: diff }, input };
  }

  /** Records what a visited node depends on, and whether it got a snapshot (else it is retried). */
  visited(node: { readonly id: string; readonly mesh: string; readonly name: string }, reach: NodeReach, ok: boolean): void {
    const id = node.id;
    if (ok) this.retry.delete(id);
    else this.retry.add(id);
    const before = this.reachOf.get(id);
    if (before === undefined) {
      // Node ids are `<mesh>.<name>`, one per Dataplane; a second node of one Dataplane (a test may give a
      // proxyless client another id) is kept beside the first.
      const k = dpKey(node.mesh, node.name);
      let ids = this.nodesOfDp.get(k);
      if (!ids) this.nodesOfDp.set(k, (ids = new Set()));
      ids.add(id);
      this.dpOf.set(id, k);
    }
    if (before === reach || (before !== undefined && before !== 'any' && reach !== 'any' && before.mesh === reach.mesh && before.services === reach.services)) return;
    this.unindex(id, before);
    this.reachOf.set(id, reach);
    if (reach === 'any') this.anyService.add(id);
    else
      for (const s of reach.services) {
        const k = dpKey(reach.mesh, s);
        let ids = this.byService.get(k);
        if (!ids) this.byService.set(k, (ids = new Set()));
        ids.add(id);
      }
  }

  /**
   * The node's snapshot is gone from the cache (it disconnected and came back before a pass noticed it was
   * gone, so the planner still counts it as visited): the next pass visits it, whatever changed.
   */
  revisit(id: string): void {
    this.retry.add(id);
  }

  /** Forgets nodes that are no longer connected. */
  forget(id: string): void {
    this.unindex(id, this.reachOf.get(id));
    const k = this.dpOf.get(id);
    if (k !== undefined) {
      const ids = this.nodesOfDp.get(k);
      ids?.delete(id);
      if (ids?.size === 0) this.nodesOfDp.delete(k);
      this.dpOf.delete(id);
    }
    this.reachOf.delete(id);
    this.retry.delete(id);
  }

  /** Node ids the planner holds (to find the disconnected ones). */
  known(): IterableIterator<string> {
    return this.reachOf.keys();
  }

  /** How many nodes the planner holds: every node of the last pass, and more only if some are gone. */
  get size(): number {
    return this.reachOf.size;
  }

  private unindex(id: string, reach: NodeReach | undefined): void {
    if (reach === undefined) return;
    if (reach === 'any') {
      this.anyService.delete(id);
      return;
    }
    for (const s of reach.services) {
      const k = dpKey(reach.mesh, s);
      const ids = this.byService.get(k);
      ids?.delete(id);
      if (ids?.size === 0) this.byService.delete(k);
    }
  }
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The Dataplanes added, replaced or removed since the last call, by object identity: an unchanged one costs a
 * set lookup (no key built), so a pass over 10,000 unchanged Dataplanes stays well under a millisecond.
 */
class DataplaneDiff {
  private readonly objects = new Set<DataplaneResource>();
  private readonly byKey = new Map<string, DataplaneResource>();

  diff(list: readonly DataplaneResource[]): DataplaneChange[] {
    const out: DataplaneChange[] = [];
    let kept = 0;
    for (const dp of list) {
      if (this.objects.has(dp)) {
        kept++;
        continue;
      }
      const k = dpKey(dp.mesh, dp.name);
      const before = this.byKey.get(k);
      out.push({ before, after: dp });
    }
    const replaced = out.filter((c) => c.before !== undefined).length;
    // Some of the previous ones are neither kept nor replaced: removed.
    if (kept + replaced < this.objects.size) {
      const now = new Set(list);
      const replacedSet = new Set(out.map((c) => c.before));
      for (const dp of this.objects) if (!now.has(dp) && !replacedSet.has(dp)) out.push({ before: dp });
    }
    for (const c of out) {
      if (c.before) {
        this.objects.delete(c.before);
        this.byKey.delete(dpKey(c.before.mesh, c.before.name));
      }
      if (c.after) {
        this.objects.add(c.after);
        this.byKey.set(dpKey(c.after.mesh, c.after.name), c.after);
      }
    }
    return out;
  }
}
