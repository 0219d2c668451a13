/**
 * What sidecars of one mesh and outbound group share: each destination's cluster and ClusterLoadAssignment
 * (memoised per group), and for transparent-proxy sidecars every destination of the mesh as shared sets
 * (clusters, endpoints, VIP listeners) that their snapshots layer their own resources over.
 */
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS } from '@ursa/proto/xds';
import { typeSetOf, type TypeSet, type VersionedResource } from '../snapshot.js';
import { loadAssignmentFor } from './eds.js';
import { externalServiceCluster, externalServiceEgressAssignment, externalServiceEgressCluster, externalServiceHooks } from './external-services.js';
import type { ResourceMemo } from './memo.js';
import { groupKey, type Group, type MeshInputs } from './mesh-inputs.js';
import { outboundClusterName } from './naming.js';
import { sameList, sameLists } from './same.js';
import { outboundCluster, outboundListener, type OutboundHooks } from './sidecar.js';
import { VIP_PORT } from './types.js';

export type SharedSets = { cds: TypeSet; eds: TypeSet; lds: TypeSet };

/** The key of a `reachableServices` list, joined once per list object. */
const reachKeys = new WeakMap<readonly string[], string>();

/** One destination's shared resources and the inputs they were built from. */
interface SharedService {
  readonly sig: string;
  readonly cluster: VersionedResource;
  /** Absent for a MeshExternalService reached directly (its endpoints are in the cluster). */
  readonly cla?: VersionedResource;
  readonly listeners: readonly VersionedResource[];
}

export class SharedOutbounds {
  /** Previous shared sets per `mesh/group` (and reachable list), reused when their resources did not change. */
  private readonly prev = new Map<string, { key: VersionedResource[][]; sets: SharedSets }>();
  /** Set keys used in this generation (the others are dropped). */
  private readonly usedSets = new Set<string>();
  /** Per `mesh/group`: each service's resources of the previous generation, and of this one. */
  private prevEntries = new Map<string, { epoch: string; services: Map<string, SharedService> }>();
  private curEntries = new Map<string, { epoch: string; services: Map<string, SharedService> }>();
  /** Per reachable list: the entries its sets were made of, previous generation and this one. */
  private prevReach = new Map<string, { entries: readonly SharedService[]; sets: SharedSets }>();
  private curReach = new Map<string, { entries: readonly SharedService[]; sets: SharedSets }>();
  /**
   * Services (`mesh\0service`, or a MeshExternalService key) of transparent-proxy meshes without a VIP, as of
   * the last generation that looked at them: a partial pass looks at few, so it keeps what the others found.
   */
  private readonly missing = new Set<string>();

  /** `used` collects the group keys this generation touched (shared with the proxyless assembler). */
  constructor(
    private readonly memo: ResourceMemo,
    private readonly used: Set<string>,
  ) {}

  /** Starts a generation; `full`: it visits every node (so it finds every service without a VIP again). */
  begin(full: boolean): void {
    if (full) this.missing.clear();
    this.usedSets.clear();
  }

  /** Services (and MeshExternalServices) still without a VIP. */
  get missingVips(): number {
    return this.missing.size;
  }

  /**
   * Ends a generation: forgets the sets no node used in it, and keeps each group's per-service resources of
   * this generation for the next (every node is generated each time, so what no node looked at is unused).
   */
  prune(): void {
    for (const k of this.prev.keys()) if (!this.usedSets.has(k)) this.prev.delete(k);
    this.prevEntries = this.curEntries;
    this.curEntries = new Map();
    this.prevReach = this.curReach;
    this.curReach = new Map();
  }

  /**
   * Ends a partial generation (`visit-plan.ts`): the nodes it did not visit still use the previous
   * generation's resources, so this one's are added to them instead of replacing them.
   */
  merge(): void {
    for (const [k, cur] of this.curEntries) {
      const prev = this.prevEntries.get(k);
      if (!prev || prev.epoch !== cur.epoch) this.prevEntries.set(k, cur);
      else for (const [s, e] of cur.services) prev.services.set(s, e);
    }
    this.curEntries = new Map();
    for (const [k, r] of this.curReach) this.prevReach.set(k, r);
    this.curReach = new Map();
  }

  /** The shared resources of one destination for a group (memoised). */
  destination(mesh: MeshInputs, g: Group, zone: string, service: string, includeRemote: boolean): { cluster: VersionedResource; cla: VersionedResource; hooks: OutboundHooks } {
    const hooks = g.policies.outbound(service);
    const protocol = mesh.protocols.get(service) ?? 'tcp';
    const gk = `${mesh.model.name}\u0000${g.policies.outboundKey}\u0000${mesh.epoch}`;
    let cluster = g.clusters.get(service);
    if (!cluster) {
      cluster = this.memo.get(CDS, `${gk}\u0000${service}\u0000${protocol}`, Cluster, outboundClusterName(service), () => outboundCluster(mesh.model, service, protocol, hooks));
      g.clusters.set(service, cluster);
    }
    let cla = g.clas.get(service);
    if (!cla) {
      const loc = g.policies.locality(service);
      const key = `${mesh.model.name}\u0000${service}\u0000${includeRemote}\u0000${loc.key === 'flat' || loc.key === 'local-first' ? loc.key : `${loc.key}\u0000${mesh.epoch}`}\u0000${mesh.endpointKeys.get(service) ?? ''}`;
      cla = this.memo.get(EDS, key, ClusterLoadAssignment, outboundClusterName(service), () =>
        loadAssignmentFor(outboundClusterName(service), mesh.services.get(service), { localZone: zone, includeRemote, priorityOf: loc.priorityOf }),
      );
      g.clas.set(service, cla);
    }
    return { cluster, cla, hooks };
  }

  /**
   * Every destination of the mesh for a transparent-proxy sidecar of the group: shared sets. Per service, the
   * previous generation's resources are reused when the service's inputs (endpoints, VIP, ports, protocol)
   * are the same strings as before, so an unchanged service costs a comparison.
   */
  sets(mesh: MeshInputs, g: Group, zone: string): SharedSets {
    if (g.sets) return g.sets;
    const services = [...new Set([...mesh.services.keys(), ...mesh.vips.keys()])].sort();
    const memoKey = groupKey(mesh, g);
    this.used.add(memoKey);
    g.sets = this.compose(memoKey, [...services.map((s) => this.entry(mesh, g, zone, s)), ...mesh.externalServices.map((m) => this.externalEntry(mesh, m))]);
    return g.sets;
  }

  /**
   * The sets of a transparent-proxy sidecar with `reachableServices` (sorted, distinct): only those services
   * that exist, as Kuma generates outbounds for them only. Shared by every proxy of the group with the same
   * list (the instances of one service, typically), and reused across generations while the listed
   * services' resources stay the same objects: a change to a service touches only the lists naming it.
   */
  reachableSets(mesh: MeshInputs, g: Group, zone: string, reachable: readonly string[]): SharedSets {
    // Keyed by the list object: the proxy model (and so the list) is built once per Dataplane object, and
    // instances of one service with equal lists find each other through `reachKeys`.
    let key = reachKeys.get(reachable);
    if (key === undefined) reachKeys.set(reachable, (key = reachable.join('\u0000')));
    let sets = g.reach.get(key);
    if (!sets) {
      const entries: SharedService[] = [];
      for (const s of reachable) if (mesh.services.has(s) || mesh.vips.has(s)) entries.push(this.entry(mesh, g, zone, s));
      const memoKey = `${groupKey(mesh, g)}\u0000reach\u0000${key}`;
      const prev = this.prevReach.get(memoKey);
      // The same entry objects as last time: the same sets, without rebuilding or comparing resource lists.
      sets = prev && sameList(prev.entries, entries) ? prev.sets : this.compose(memoKey, entries);
      this.usedSets.add(memoKey);
      this.curReach.set(memoKey, { entries, sets });
      g.reach.set(key, sets);
    }
    return sets;
  }

  /** One service's shared resources in this generation: its previous ones when its inputs are the same. */
  private entry(mesh: MeshInputs, g: Group, zone: string, service: string): SharedService {
    let entry = g.entries.get(service) as SharedService | undefined;
    if (entry) return entry;
    const memoKey = groupKey(mesh, g);
    this.used.add(memoKey);
    const prev = this.prevEntries.get(memoKey);
    const vip = mesh.vips.get(service);
    const protocol = mesh.protocols.get(service) ?? 'tcp';
    const ports = [...new Set([...(mesh.ports.get(service) ?? []), VIP_PORT])];
    const sig = `${protocol}\u0000${vip ?? ''}\u0000${ports.join(',')}\u0000${mesh.endpointKeys.get(service) ?? ''}`;
    entry = prev !== undefined && prev.epoch === mesh.epoch ? prev.services.get(service) : undefined;
    if (entry && entry.sig === sig) {
      this.memo.keep(entry.cluster);
      if (entry.cla) this.memo.keep(entry.cla);
      for (const l of entry.listeners) this.memo.keep(l);
    } else {
      const d = this.destination(mesh, g, zone, service, mesh.model.mtls !== undefined);
      const vipListeners = vip
        ? ports.map((port) =>
            this.memo.get(LDS, `${mesh.model.name}\u0000${g.policies.outboundKey}\u0000${mesh.epoch}\u0000${service}\u0000${protocol}\u0000${vip}:${port}`, Listener, `outbound:${vip}:${port}`, () =>
              outboundListener(vip, port, service, protocol, d.hooks, false),
            ),
          )
        : [];
      entry = { sig, cluster: d.cluster, cla: d.cla, listeners: vipListeners };
    }
    if (!vip) this.missing.add(`${mesh.model.name}\u0000${service}`);
    else this.missing.delete(`${mesh.model.name}\u0000${service}`);
    g.entries.set(service, entry);
    let cur = this.curEntries.get(memoKey);
    if (!cur) this.curEntries.set(memoKey, (cur = { epoch: mesh.epoch, services: new Map() }));
    cur.services.set(service, entry);
    return entry;
  }

  /**
   * A MeshExternalService's outbound (`external-services.ts`): through the zone egress with mTLS on (its
   * cluster, the egresses as its endpoints), else direct; a listener on its VIP and `match.port` once the
   * resolver gave it a VIP. The same for every group (no policy applies to it yet), memoised by its inputs.
   */
  private externalEntry(mesh: MeshInputs, e: MeshInputs['externalServices'][number]): SharedService {
    const m = e.model;
    const through = mesh.model.mtls !== undefined;
    const k = `mes\u0000${m.key}\u0000${through}`;
    const cluster = this.memo.get(CDS, k, Cluster, m.cluster, () => (through ? externalServiceEgressCluster(m) : externalServiceCluster(m)));
    const cla = through ? this.memo.get(EDS, `${k}\u0000${JSON.stringify(mesh.egresses)}`, ClusterLoadAssignment, m.cluster, () => externalServiceEgressAssignment(m, mesh.egresses)) : undefined;
    const vip = e.vip;
    // Its VIP comes from the DNS component's loop like a service's: counted, so the agent retries shortly.
    if (!vip) this.missing.add(k);
    else this.missing.delete(k);
    const listeners = vip
      ? [this.memo.get(LDS, `${k}\u0000${vip}`, Listener, `outbound:${vip}:${m.port}`, () => outboundListener(vip, m.port, m.cluster, m.protocol, externalServiceHooks(m), false))]
      : [];
    return { sig: '', cluster, cla, listeners };
  }

  /** Sets of `entries`, the previous ones under `memoKey` where their resources did not change. */
  private compose(memoKey: string, entries: readonly SharedService[]): SharedSets {
    this.usedSets.add(memoKey);
    const prev = this.prev.get(memoKey);
    const clusters: VersionedResource[] = [];
    const clas: VersionedResource[] = [];
    const listeners: VersionedResource[] = [];
    for (const e of entries) {
      clusters.push(e.cluster);
      if (e.cla) clas.push(e.cla);
      listeners.push(...e.listeners);
    }
    const key = [clusters, clas, listeners];
    let sets: SharedSets;
    if (prev && sameLists(prev.key, key)) sets = prev.sets;
    else {
      // Reuse each set whose resources did not change (an endpoint change rebuilds EDS only).
      sets = {
        cds: prev && sameList(prev.key[0]!, clusters) ? prev.sets.cds : typeSetOf(CDS, clusters),
        eds: prev && sameList(prev.key[1]!, clas) ? prev.sets.eds : typeSetOf(EDS, clas),
        lds: prev && sameList(prev.key[2]!, listeners) ? prev.sets.lds : typeSetOf(LDS, listeners),
      };
    }
    this.prev.set(memoKey, { key, sets });
    return sets;
  }
}
