/**
 * The snapshot of a zone egress (Kuma `pkg/xds/generator/egress/generator.go`): one listener
 * `inbound:<address>:<port>` with a TLS inspector, whose filter chains are matched by SNI:
 * - for every service of another zone, in every mesh with `routing.zoneEgress` (and mTLS), the sidecar's
 *   SNI `<service>{mesh=<mesh>}` -> a TCP proxy to cluster `<mesh>:<service>`, whose endpoints are the other
 *   zones' ingresses (advertised address and port, weighted by instances): the bytes stay encrypted end to
 *   end, sidecar to sidecar, as through an ingress (`ingress.ts`, the same resource shapes);
 * - (not yet: MeshExternalService chains, where Kuma terminates the sidecar's mTLS with the egress's
 *   certificate of the mesh and originates TLS to the service's endpoints; see README "MeshExternalService").
 * No listener when no chain would be in it (Envoy rejects a listener without filter chains).
 */
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS } from '@ursa/proto/xds';
import { isLocal } from '../../model/dataplane.js';
import { Snapshot, typeSetOf } from '../snapshot.js';
import { routesThroughEgress } from './egress-route.js';
import { meshEndpoints } from './endpoints.js';
import { ingressCluster, ingressListener, type IngressService } from './ingress.js';
import { loadAssignmentFor } from './eds.js';
import { ingressClusterName } from './naming.js';
import type { ResourceMemo } from './memo.js';
import type { ConnectedNode, GenerationInput } from './types.js';

export function egressSnapshot(memo: ResourceMemo, input: GenerationInput, node: ConnectedNode): Snapshot {
  const ze = (input.zoneEgresses ?? []).find((z) => z.name === node.name && isLocal(z));
  if (!ze) return Snapshot.empty();
  const address = ze.spec.networking.address ?? '';
  const port = ze.spec.networking.port;
  const services: IngressService[] = [];
  for (const m of input.meshes) {
    if (!routesThroughEgress(m)) continue;
    const all = meshEndpoints({ mesh: m.name, zone: input.zone, dataplanes: [], zoneIngresses: input.zoneIngresses });
    for (const [service, endpoints] of all) {
      const remote = endpoints.zones.filter((z) => z.zone !== input.zone);
      if (remote.length > 0) services.push({ mesh: m.name, service, endpoints: { service, zones: remote } });
    }
  }
  services.sort((a, b) => (a.mesh + '\u0000' + a.service < b.mesh + '\u0000' + b.service ? -1 : 1));
  const clusters = services.map((s) => memo.get(CDS, `ze\u0000${s.mesh}\u0000${s.service}`, Cluster, ingressClusterName(s.mesh, s.service), () => ingressCluster(s)));
  const clas = services.map((s) =>
    memo.get(EDS, `ze\u0000${s.mesh}\u0000${s.service}\u0000${JSON.stringify(s.endpoints.zones)}`, ClusterLoadAssignment, ingressClusterName(s.mesh, s.service), () =>
      loadAssignmentFor(ingressClusterName(s.mesh, s.service), s.endpoints, { localZone: input.zone, includeRemote: true }),
    ),
  );
  const listeners =
    address !== '' && port > 0 && services.length > 0
      ? [memo.get(LDS, `ze\u0000${address}:${port}\u0000${services.map((s) => `${s.mesh}/${s.service}`).join(',')}`, Listener, `inbound:${address}:${port}`, () => ingressListener(address, port, services))]
      : [];
  return Snapshot.fromSets(new Map([[CDS, typeSetOf(CDS, clusters)], [EDS, typeSetOf(EDS, clas)], [LDS, typeSetOf(LDS, listeners)]]));
}
