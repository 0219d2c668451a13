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
import type { ResourceMemo } from './memo.js';
import { groupKey, type Group, type MeshInputs } from './mesh-inputs.js';
import { outboundClusterName } from './naming.js';
import { sameList, sameLists } from './same.js';
import { outboundCluster, outboundListener, type OutboundHooks } from './sidecar.js';
import { VIP_PORT } from './types.js';

export type SharedSets = { cds: TypeSet; eds: TypeSet; lds: TypeSet };

/** One destination's shared resources and the inputs they were built from. */
interface SharedService {
  readonly sig: string;
  readonly cluster: VersionedResource;
  readonly cla: VersionedResource;
  readonly listeners: readonly VersionedResource[];
}

export class SharedOutbounds {
  /** Previous shared sets per `mesh/group`, reused when their resources did not change. */
  private readonly prev = new Map<string, { epoch: string; services: Map<string, SharedService>; key: VersionedResource[][]; sets: SharedSets }>();
  /** Services of transparent-proxy meshes without a VIP in this generation. */
  missingVips = 0;

  /** `used` collects the group keys this generation touched (shared with the proxyless assembler). */
  constructor(
    private readonly memo: ResourceMemo,
    private readonly used: Set<string>,
  ) {}

  begin(): void {
    this.missingVips = 0;
  }

  /** Forgets the sets of groups no node belongs to any more. */
  prune(): void {
    for (const k of this.prev.keys()) if (!this.used.has(k)) this.prev.delete(k);
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
    const memoKey = groupKey(mesh, g);
    this.used.add(memoKey);
    const prev = this.prev.get(memoKey);
    const reuse = prev !== undefined && prev.epoch === mesh.epoch;
    const perService = new Map<string, SharedService>();
    const clusters: VersionedResource[] = [];
    const clas: VersionedResource[] = [];
    const listeners: VersionedResource[] = [];
    const services = [...new Set([...mesh.services.keys(), ...mesh.vips.keys()])].sort();
    for (const service of services) {
      const vip = mesh.vips.get(service);
      const protocol = mesh.protocols.get(service) ?? 'tcp';
      const ports = [...new Set([...(mesh.ports.get(service) ?? []), VIP_PORT])];
      const sig = `${protocol}\u0000${vip ?? ''}\u0000${ports.join(',')}\u0000${mesh.endpointKeys.get(service) ?? ''}`;
      let entry = reuse ? prev.services.get(service) : undefined;
      if (entry && entry.sig === sig) {
        this.memo.keep(entry.cluster);
        this.memo.keep(entry.cla);
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
      if (!vip) this.missingVips++;
      perService.set(service, entry);
      clusters.push(entry.cluster);
      clas.push(entry.cla);
      listeners.push(...entry.listeners);
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
    this.prev.set(memoKey, { epoch: mesh.epoch, services: perService, key, sets });
    g.sets = sets;
    return sets;
  }
}
