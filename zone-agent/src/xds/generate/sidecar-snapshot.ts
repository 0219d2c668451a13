/**
 * Snapshots of Envoy sidecars (resources from `sidecar.ts`, mTLS over SDS from `tls.ts`): a node's own sets
 * (inbounds, declared outbounds, passthrough, secrets), rebuilt only when its own inputs changed, composed
 * with its group's shared sets (`shared-outbounds.ts`) for transparent proxying, or with its declared
 * destinations' endpoints otherwise.
 */
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { Secret } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS, SECRET_TYPE_URL as SDS } from '@ursa/proto/xds';
import type { DataplaneResource } from '../../model/dataplane.js';
import type { WorkloadCertificate, WorkloadCertificates } from '../certs.js';
import { encodeCanonical, type Codec } from '../hash.js';
import { emptyTypeSet, layeredTypeSet, Snapshot, typeSetOf, type TypeSet, type VersionedResource } from '../snapshot.js';
import type { ResourceMemo } from './memo.js';
import type { Group, MeshInputs } from './mesh-inputs.js';
import type { ProxyModel } from './model.js';
import type { ProxyPolicies } from './policy-hooks.js';
import { sameList } from './same.js';
import type { SharedOutbounds } from './shared-outbounds.js';
import { inboundListener, localCluster, outboundListener, passthrough, type OutboundHooks } from './sidecar.js';
import { caSecret, identitySecret } from './tls.js';
import { proxyDns, type ProxyDns } from './proxy-dns.js';
import type { ConnectedNode } from './types.js';

/** What a node's last generation used, so an unchanged node costs a string comparison. */
export interface NodeState {
  /** The Dataplane object and mesh epoch last seen (same object: unchanged, no need to compare). */
  dp: DataplaneResource;
  epoch: string;
  /** Its Dataplane and the mesh's epoch, as a string. */
  inputKey: string;
  policies: ProxyPolicies;
  model: ProxyModel;
  /** Everything its own sets depend on. */
  ownKey: string;
  own: { cds: TypeSet; lds: TypeSet; sds: TypeSet };
  /** Its DNS-in-the-proxy listener over its own listeners (`withDns`). */
  dns?: { key: string; lds: TypeSet; listener: VersionedResource; set: TypeSet };
  /** The last snapshot and the sets it was composed from. */
  composed?: { parts: readonly TypeSet[]; snapshot: Snapshot };
}

/** A fresh node's own sets, before its first build. */
export const EMPTY_OWN: NodeState['own'] = { cds: emptyTypeSet(), lds: emptyTypeSet(), sds: emptyTypeSet() };

export class SidecarSnapshots {
  constructor(
    private readonly memo: ResourceMemo,
    private readonly certs: WorkloadCertificates,
    private readonly shared: SharedOutbounds,
  ) {}

  async snapshot(mesh: MeshInputs, g: Group, zone: string, node: ConnectedNode, state: NodeState): Promise<{ snapshot: Snapshot; rebuilt: boolean } | { skip: string }> {
    const model = state.model;
    let cert: WorkloadCertificate | undefined;
    if (mesh.model.mtls) {
      if (!mesh.ca) return { skip: `mesh ${mesh.model.name} has mTLS on (backend ${mesh.model.mtls.backend}) but its CA secret ${mesh.model.mtls.certSecret} has not arrived from the global yet` };
      cert = this.certs.current(mesh.model.name, node.name, model.inbounds.map((i) => i.service), mesh.ca) ?? (await this.certs.get(mesh.model.name, node.name, model.inbounds.map((i) => i.service), mesh.ca));
    }
    const tp = model.transparentProxy;
    // Declared outbounds (and their route backends) of a proxy without transparent proxying.
    const declared = tp ? [] : [...new Set(model.outbounds.flatMap((o) => [o.service, ...g.policies.outbound(o.service).backendServices]))].sort();
    const destinations = declared.map((s) => ({ service: s, ...this.shared.destination(mesh, g, zone, s, mesh.model.mtls !== undefined) }));

    const ownKey = `${g.policies.outboundKey}\u0000${cert?.certPem ?? ''}\u0000${tp ? 'tp' : destinations.map((d) => d.cluster.version).join(',')}`;
    const rebuilt = state.ownKey !== ownKey;
    if (rebuilt) {
      state.own = this.ownSets(mesh, g, state.policies, model, cert, destinations);
      state.ownKey = ownKey;
    }
    const own = state.own;
    let parts: TypeSet[];
    if (tp) {
      // `reachableServices`: only those services' outbounds (Kuma's `resolveVIPOutbounds`), else all of them.
      const shared = tp.reachableServices ? this.shared.reachableSets(mesh, g, zone, tp.reachableServices) : this.shared.sets(mesh, g, zone);
      // DNS in the proxy (its mesh's VIP table, as in Kuma only with transparent proxying): a layer of its own
      // over the node's listeners, so a new VIP rebuilds one listener, not the node's own sets.
      parts = [shared.cds, own.cds, shared.eds, shared.lds, this.withDns(state, own.lds, proxyDns(mesh.vips, mesh.model.name, state.dp.labels, node.workDir, mesh.externalServices.map((e) => ({ name: e.model.name, vip: e.vip })))), own.sds];
    } else {
      const prevEds = state.composed?.parts[2];
      const clas = destinations.map((d) => d.cla);
      const eds = prevEds && prevEds.items.size === clas.length && clas.every((c) => prevEds.items.get(c.name) === c) ? prevEds : clas.length === 0 ? emptyTypeSet() : typeSetOf(EDS, clas);
      parts = [emptyTypeSet(), own.cds, eds, emptyTypeSet(), own.lds, own.sds];
    }
    // Nothing this node's snapshot is made of changed: hand out the same object (no work downstream).
    const prev = state.composed;
    if (prev && sameList(prev.parts, parts)) return { snapshot: prev.snapshot, rebuilt };
    const [cdsBase, cdsTop, eds, ldsBase, ldsTop, sds] = parts as [TypeSet, TypeSet, TypeSet, TypeSet, TypeSet, TypeSet];
    const prevSets = prev?.snapshot;
    // Reuse the layered views whose layers did not change (an EDS change keeps CDS and LDS as they were).
    const cds = prev && prev.parts[0] === cdsBase && prev.parts[1] === cdsTop ? prevSets!.get(CDS) : layeredTypeSet(cdsBase, cdsTop);
    const lds = prev && prev.parts[3] === ldsBase && prev.parts[4] === ldsTop ? prevSets!.get(LDS) : layeredTypeSet(ldsBase, ldsTop);
    const snapshot = Snapshot.fromSets(new Map([[CDS, cds], [EDS, eds], [LDS, lds], [SDS, sds]]));
    state.composed = { parts, snapshot };
    return { snapshot, rebuilt };
  }

  /** The node's own listeners with its DNS listener on top; the same set while neither changed. */
  private withDns(state: NodeState, lds: TypeSet, dns: ProxyDns): TypeSet {
    const prev = state.dns;
    if (prev && prev.key === dns.key && prev.lds === lds) return prev.set;
    const listener = prev && prev.key === dns.key ? prev.listener : this.memo.get(LDS, `dns\u0000${dns.key}`, Listener, dns.name, dns.listener);
    const set = layeredTypeSet(lds, typeSetOf(LDS, [listener]));
    state.dns = { key: dns.key, lds, listener, set };
    return set;
  }

  private ownSets(
    mesh: MeshInputs,
    g: Group,
    policies: ProxyPolicies,
    model: ProxyModel,
    cert: WorkloadCertificate | undefined,
    destinations: readonly { service: string; cluster: VersionedResource; hooks: OutboundHooks }[],
  ): NodeState['own'] {
    const bind = model.transparentProxy === undefined;
    const clusters = new Map<string, VersionedResource>();
    const listeners = new Map<string, VersionedResource>();
    const add = (m: Map<string, VersionedResource>, r: VersionedResource) => m.set(r.name, r);
    const ek = `${mesh.model.name}\u0000${mesh.epoch}`;
    // Built only when this node's inputs changed; interned so identical ones are shared.
    const own = <T>(typeUrl: string, codec: Codec<T>, name: string, m: T) => this.memo.intern(typeUrl, name, encodeCanonical(codec, m));
    for (const ib of model.inbounds) {
      const c = localCluster(ib);
      add(clusters, own(CDS, Cluster, c.name, c));
      const l = inboundListener(mesh.model, ib, policies.inbound(ib.port), bind);
      add(listeners, own(LDS, Listener, l.name, l));
    }
    for (const d of destinations) add(clusters, d.cluster);
    // Telemetry collectors of MeshTrace / MeshAccessLog backends.
    for (const c of policies.collectorClusters()) add(clusters, own(CDS, Cluster, c.name, c));
    for (const ob of model.outbounds) {
      const protocol = mesh.protocols.get(ob.service) ?? 'tcp';
      const hooks = destinations.find((d) => d.service === ob.service)?.hooks ?? g.policies.outbound(ob.service);
      add(
        listeners,
        this.memo.get(LDS, `out\u0000${ek}\u0000${g.policies.outboundKey}\u0000${JSON.stringify(ob)}\u0000${protocol}\u0000${bind}`, Listener, `outbound:${ob.address}:${ob.port}`, () =>
          outboundListener(ob.address, ob.port, ob.service, protocol, hooks, bind),
        ),
      );
    }
    if (model.transparentProxy) {
      for (const [dir, port] of [['outbound', model.transparentProxy.redirectPortOutbound], ['inbound', model.transparentProxy.redirectPortInbound]] as const) {
        const p = passthrough(dir, port);
        add(clusters, this.memo.get(CDS, `pt\u0000${dir}`, Cluster, p.cluster.name, () => p.cluster));
        add(listeners, this.memo.get(LDS, `pt\u0000${dir}\u0000${port}`, Listener, p.listener.name, () => p.listener));
      }
    }
    const secrets: VersionedResource[] = [];
    if (cert) {
      const id = identitySecret(mesh.model.name, cert.certPem, cert.keyPem);
      const ca = caSecret(mesh.model.name, cert.caPem);
      secrets.push(own(SDS, Secret, id.name, id), own(SDS, Secret, ca.name, ca));
    }
    return { cds: typeSetOf(CDS, clusters.values()), lds: typeSetOf(LDS, listeners.values()), sds: typeSetOf(SDS, secrets) };
  }
}
