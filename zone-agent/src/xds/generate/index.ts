/**
 * The generator: the zone's resources in, one snapshot per connected node out, by node kind
 * (`node-kind.ts`): Envoy sidecars (`sidecar-snapshot.ts`; resources from `sidecar.ts`, mTLS over SDS
 * `tls.ts`), proxyless gRPC clients (`proxyless-snapshot.ts`, `proxyless.ts`), zone ingresses
 * (`ingress-snapshot.ts`, `ingress.ts`) and zone egresses (`egress-snapshot.ts`). This file only orchestrates: per-mesh inputs (`mesh-inputs.ts`),
 * certificates (`certificates.ts`), then one snapshot per node.
 *
 * Scale (2,000 sidecars of 1,000 services must cost far less than 2,000 x 1,000 clusters):
 * - What does not depend on the proxy is built once per mesh and *outbound group* (proxies matched by the
 *   same policies, `policy-hooks.ts`): each destination's cluster, ClusterLoadAssignment and VIP listeners.
 *   A transparent-proxy sidecar's snapshot layers its own resources (inbounds, declared outbounds,
 *   secrets) over the group's shared sets (`layeredTypeSet`, `shared-outbounds.ts`), without copying them.
 * - Every resource is memoised by its inputs and interned by content (`memo.ts`): a rebuild after one
 *   endpoint change re-encodes one ClusterLoadAssignment; every other resource is the same object as
 *   before, so the group's other sets are reused as they are.
 * - A node whose own inputs (its Dataplane, its certificate, the mesh, the policies) did not change keeps
 *   its own sets; only its view of the shared sets is recomposed, in O(1).
 * - Snapshots are handed out node by node (`onSnapshot`), yielding to the event loop after every
 *   `YIELD_EVERY_MS` of work, so streams keep being served while a large rebuild (a cold start) runs. By time,
 *   not by node count: a change's pass costs ~20 µs per node, and yielding every 200 nodes let the ACKs of the
 *   proxies already answered run inside the pass, so the last of 2,000 proxies waited for ~1,800 ACKs
 *   (bench/xds.ts timeline: pass 100–150 ms of wall time for ~45 ms of CPU).
 */
import { Snapshot } from '../snapshot.js';
import { issueCertificates } from './certificates.js';
import { egressCertName, egressSnapshot } from './egress-snapshot.js';
import { ingressSnapshot } from './ingress-snapshot.js';
import { isZoneProxy } from './node-kind.js';
import { groupOf, meshInputs, type MeshInputs } from './mesh-inputs.js';
import { ResourceMemo } from './memo.js';
import { proxyModelOf } from './model.js';
import { proxyPolicies } from './policy-hooks.js';
import { ProxylessSnapshots } from './proxyless-snapshot.js';
import { SharedOutbounds } from './shared-outbounds.js';
import { EMPTY_OWN, SidecarSnapshots, type NodeState } from './sidecar-snapshot.js';
import { VisitPlanner, type NodeReach } from './visit-plan.js';
import type { ConnectedNode, GenerateOptions, GenerationInput, GenerationStats, GeneratorOptions } from './types.js';

export type { ProxyKind } from './node-kind.js';
export { describeNode, type NodeIdentity } from './node-kind.js';
export { VIP_PORT, type ConnectedNode, type GenerateOptions, type GenerationInput, type GenerationStats, type GeneratorOptions } from './types.js';

/**
 * Longest run of generation between two yields. Long enough that a change's pass over thousands of proxies
 * hands out every snapshot in one go, short enough that a cold start's heavy pass leaves the streams served.
 */
const YIELD_EVERY_MS = 25;

export class XdsGenerator {
  private readonly memo = new ResourceMemo();
  private readonly nodeStates = new Map<string, NodeState>();
  /** Groups (`mesh/outboundKey`) some node used in this generation; the others' previous sets are dropped. */
  private readonly usedGroups = new Set<string>();
  private readonly shared = new SharedOutbounds(this.memo, this.usedGroups);
  private readonly proxyless = new ProxylessSnapshots(this.memo, this.usedGroups);
  private readonly sidecars: SidecarSnapshots;
  private readonly planner = new VisitPlanner();
  /** Each mesh's inputs of the last generation (a partial pass updates them, `mesh-inputs-delta.ts`). */
  private meshes = new Map<string, MeshInputs>();

  constructor(private readonly opts: GeneratorOptions) {
    this.sidecars = new SidecarSnapshots(this.memo, opts.certs, this.shared);
  }

  /** Generates for `nodes`; resolves when every node was handed to `onSnapshot` or `onSkip`. */
  async generate(input: GenerationInput, nodes: readonly ConnectedNode[], out: GenerateOptions): Promise<GenerationStats> {
    const t0 = performance.now();
    const encodedBefore = this.memo.encoded;
    const planned = this.planner.plan(input, nodes, this.opts.certs.renewalDue());
    const plan = planned.plan;
    input = planned.input;
    // A partial pass visits only the nodes whose inputs could have changed (`visit-plan.ts`); the others keep
    // their snapshots, and what they use stays in the memo until the next full pass sweeps it.
    const visit = plan.full ? nodes : nodes.filter((n) => plan.visit.has(n.id));
    this.memo.begin();
    this.shared.begin(plan.full);
    this.usedGroups.clear();
    const meshes = meshInputs(input, new Set(nodes.filter((n) => !isZoneProxy(n.kind)).map((n) => n.mesh)), plan.full ? undefined : { previous: this.meshes, changed: plan.changed });
    this.meshes = meshes;
    await issueCertificates(this.opts.certs, meshes, visit);
    let rebuilt = 0;
    const batch = out.batchSize ?? Infinity;
    const slice = out.yieldEveryMs ?? YIELD_EVERY_MS;
    let sliceStart = performance.now();
    for (let i = 0; i < visit.length; i++) {
      const node = visit[i]!;
      let ok = false;
      try {
        const r = await this.nodeSnapshot(input, meshes, node);
        if ('skip' in r) out.onSkip?.(node.id, r.skip);
        else {
          ok = true;
          if (r.rebuilt) rebuilt++;
          out.onSnapshot(node.id, r.snapshot);
        }
      } catch (err) {
        out.onSkip?.(node.id, `generation failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.planner.visited(node, this.reachOf(node), ok);
      if ((i + 1) % batch === 0 || performance.now() - sliceStart >= slice) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
      }
    }
    // Every node given was visited now or before, so the planner holds more only when some are gone: then
    // (and on full passes) forget them, their state and their certificates (O(nodes), not on every change).
    if (plan.full || this.planner.size > nodes.length) {
      const live = new Set(nodes.map((n) => n.id));
      for (const id of this.nodeStates.keys()) if (!live.has(id)) this.nodeStates.delete(id);
      for (const id of [...this.planner.known()]) if (!live.has(id)) this.planner.forget(id);
      // Egresses hold one certificate per mesh, under `egressCertName` (`egress-snapshot.ts`).
      const egresses = new Set(nodes.filter((n) => n.kind === 'egress').map((n) => egressCertName(n.name)));
      this.opts.certs.retain((mesh, name) => live.has(`${mesh}.${name}`) || egresses.has(name));
    }
    if (plan.full) {
      // Groups no node belongs to any more, and resources no node uses.
      this.shared.prune();
      this.proxyless.prune();
      this.memo.sweep();
    } else this.shared.merge();
    return { nodes: nodes.length, visited: visit.length, full: plan.full, rebuilt, encoded: this.memo.encoded - encodedBefore, missingVips: this.shared.missingVips, ms: performance.now() - t0 };
  }

  /** The next generation visits this node even in a partial pass (its snapshot was dropped: `VisitPlanner.revisit`). */
  revisit(id: string): void {
    this.planner.revisit(id);
  }

  /** What a node's snapshot depends on beyond its own Dataplane (`visit-plan.ts`). */
  private reachOf(node: ConnectedNode): NodeReach {
    if (node.kind !== 'sidecar') return 'any';
    const state = this.nodeStates.get(node.id);
    const tp = state?.model.transparentProxy;
    // A sidecar without transparent proxying reaches its declared outbounds and their route backends:
    // policies can name any service, so it is visited on any change (as are sidecars without a list).
    if (!state || !tp?.reachableServices) return 'any';
    return { mesh: node.mesh, services: tp.reachableServices };
  }

  /** Distinct encoded resources held (for the benchmark and logs). */
  get resourcesHeld(): number {
    return this.memo.size;
  }

  private async nodeSnapshot(input: GenerationInput, meshes: Map<string, MeshInputs>, node: ConnectedNode): Promise<{ snapshot: Snapshot; rebuilt: boolean } | { skip: string }> {
    if (node.kind === 'ingress') return { snapshot: ingressSnapshot(this.memo, input, node), rebuilt: true };
    if (node.kind === 'egress') return { snapshot: await egressSnapshot(this.memo, this.opts.certs, input, node), rebuilt: true };
    const mesh = meshes.get(node.mesh);
    if (!mesh) return { snapshot: Snapshot.empty(), rebuilt: false };
    const dp = mesh.dataplanes.get(node.name);
    if (!dp) return { snapshot: Snapshot.empty(), rebuilt: false };
    // Policy matching and parsing only when the Dataplane or the mesh (policies included) changed.
    let state = this.nodeStates.get(node.id);
    const same = state && state.dp === dp && state.epoch === mesh.epoch;
    const inputKey = same ? state!.inputKey : `${node.kind}\u0000${mesh.epoch}\u0000${JSON.stringify(dp.labels)}\u0000${JSON.stringify(dp.spec)}`;
    if (state && !same) {
      state.dp = dp;
      state.epoch = mesh.epoch;
    }
    if (!state || state.inputKey !== inputKey) {
      const policies = proxyPolicies({ mesh: mesh.model, zone: input.zone, dataplane: dp, policies: mesh.policies });
      const fresh: NodeState = { dp, epoch: mesh.epoch, inputKey, policies, model: proxyModelOf(dp), ownKey: '', own: EMPTY_OWN };
      this.nodeStates.set(node.id, fresh);
      state = fresh;
    }
    const g = groupOf(mesh, state.policies);
    if (node.kind === 'proxyless') return { snapshot: this.proxyless.snapshot(mesh, g, input.zone), rebuilt: false };
    return this.sidecars.snapshot(mesh, g, input.zone, node, state);
  }
}
