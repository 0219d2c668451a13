/**
 * Snapshots of proxyless gRPC clients (resources from `proxyless.ts`): one snapshot per mesh and outbound
 * group, shared by every client of the group and reused across generations while its resources are the
 * same objects.
 */
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS, ROUTE_CONFIGURATION_TYPE_URL as RDS } from '@ursa/proto/xds';
import { Snapshot, typeSetOf, type VersionedResource } from '../snapshot.js';
import { loadAssignmentFor } from './eds.js';
import { proxylessClientEndpoints } from './egress-proxyless.js';
import type { ResourceMemo } from './memo.js';
import { groupKey, type Group, type MeshInputs } from './mesh-inputs.js';
import type { Protocol } from './model.js';
import { outboundClusterName } from './naming.js';
import { apiListener, edsCluster as proxylessCluster, routeToCluster } from './proxyless.js';
import { sameList } from './same.js';
import type { OutboundHooks } from './sidecar.js';

const PROTOCOL_FOR_PROXYLESS: Protocol = 'grpc';

/** What `_config` tells about a proxyless client's endpoints. */
export const PROXYLESS_NOTE =
  "proxyless gRPC client: it speaks plaintext and holds no mesh certificate, so it is handed only endpoints that take plaintext. With mTLS off: this zone's instances only (another zone's ingress accepts only mesh mTLS routed by SNI, so other zones are withheld). With mTLS on, every sidecar inbound requires a mesh client certificate (Ursa has no permissive mode), so when the mesh routes through the zone egress (routing.zoneEgress) and the zone has one, every endpoint, this zone's and other zones', is the egress address (in this zone's locality when the service has instances here, else in the other zones'), where the egress takes plaintext HTTP/2 and calls the service's sidecars or the other zone's ingress as the zone egress identity (spiffe://<mesh>/zone-egress, which MeshTrafficPermission must allow) and picks the zone itself (flat by instance count, local first with localityAwareLoadBalancing). Otherwise no endpoint at all: a proxyless client in an mTLS mesh needs the egress path or a sidecar (calls answer UNAVAILABLE). The same holds for a service name with instances in two meshes routed through the egress (its plaintext path cannot tell meshes apart). MeshExternalServices are not served to proxyless clients: the egress reaches them only for mesh mTLS routed by SNI.";

export class ProxylessSnapshots {
  private readonly prev = new Map<string, { key: VersionedResource[]; snapshot: Snapshot }>();

  /** `used` collects the group keys this generation touched (shared with `SharedOutbounds`). */
  constructor(
    private readonly memo: ResourceMemo,
    private readonly used: Set<string>,
  ) {}

  /** Forgets the snapshots of groups no node belongs to any more. */
  prune(): void {
    for (const k of this.prev.keys()) if (!this.used.has(k)) this.prev.delete(k);
  }

  snapshot(mesh: MeshInputs, g: Group, zone: string): Snapshot {
    if (g.proxyless) return g.proxyless;
    const list: VersionedResource[] = [];
    const gk = `${mesh.model.name}\u0000${g.policies.outboundKey}\u0000${mesh.epoch}`;
    const clusters: VersionedResource[] = [];
    const clas: VersionedResource[] = [];
    const listeners: VersionedResource[] = [];
    const routes: VersionedResource[] = [];
    for (const service of mesh.services.keys()) {
      // A gRPC client speaks plaintext and holds no mesh certificate. Another zone's ingress accepts nothing
      // but mesh mTLS routed by SNI (`ingress.ts`), and with mTLS on so does every sidecar inbound here
      // (`tls.ts`, no permissive mode): such an endpoint would be a connection that is refused, and a call
      // or a failover would fail silently. So: mTLS off, this zone's instances (other zones withheld); mTLS
      // on, every endpoint is this zone's egress where it has a plaintext route for the service
      // (`egress-proxyless.ts`), and none otherwise (UNAVAILABLE). `_config` says so (`PROXYLESS_NOTE`).
      const viaEgress = mesh.proxylessViaEgress.has(service);
      const mode = !mesh.model.mtls ? 'direct' : viaEgress ? `egress ${mesh.egresses.map((e) => `${e.address}:${e.port}`).join(',')}` : 'none';
      const hooks = g.policies.outbound(service);
      const loc = g.policies.locality(service);
      clusters.push(this.memo.get(CDS, `pl\u0000${gk}\u0000${service}`, Cluster, service, () => hooks.decorateCluster(proxylessCluster(service), PROTOCOL_FOR_PROXYLESS)));
      clas.push(
        this.memo.get(EDS, `pl\u0000${mesh.model.name}\u0000${service}\u0000${mode}\u0000${loc.key === 'flat' || loc.key === 'local-first' ? loc.key : `${loc.key}\u0000${mesh.epoch}`}\u0000${mesh.endpointKeys.get(service)}`, ClusterLoadAssignment, service, () =>
          loadAssignmentFor(service, mode === 'direct' ? mesh.services.get(service) : viaEgress ? proxylessClientEndpoints(mesh.services.get(service), zone, mesh.egresses) : undefined, { localZone: zone, includeRemote: viaEgress, priorityOf: loc.priorityOf }),
        ),
      );
      listeners.push(this.memo.get(LDS, `pl\u0000${service}`, Listener, service, () => apiListener(service)));
      routes.push(this.memo.get(RDS, `pl\u0000${gk}\u0000${service}`, RouteConfiguration, service, () => proxylessRoutes(service, hooks)));
    }
    list.push(...clusters, ...clas, ...listeners, ...routes);
    const memoKey = groupKey(mesh, g);
    this.used.add(memoKey);
    const prev = this.prev.get(memoKey);
    let snapshot: Snapshot;
    if (prev && sameList(prev.key, list)) snapshot = prev.snapshot;
    else {
      snapshot = Snapshot.fromSets(new Map([[CDS, typeSetOf(CDS, clusters)], [EDS, typeSetOf(EDS, clas)], [LDS, typeSetOf(LDS, listeners)], [RDS, typeSetOf(RDS, routes)]]));
      this.prev.set(memoKey, { key: list, snapshot });
    }
    g.proxyless = snapshot;
    return snapshot;
  }
}

function proxylessRoutes(service: string, hooks: OutboundHooks): RouteConfiguration {
  const base = routeToCluster(service);
  const routes = hooks.httpRoutes(outboundClusterName, PROTOCOL_FOR_PROXYLESS);
  return RouteConfiguration.fromPartial({ ...base, virtualHosts: [{ ...base.virtualHosts[0]!, routes }] });
}
