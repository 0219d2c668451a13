/** The snapshot of a zone ingress (resources from `ingress.ts`): every mesh's local services. */
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS } from '@ursa/proto/xds';
import { isLocal } from '../../model/dataplane.js';
import { Snapshot, typeSetOf } from '../snapshot.js';
import { meshEndpoints } from './endpoints.js';
import { ingressCluster, ingressListener, ingressLoadAssignment, type IngressService } from './ingress.js';
import type { ResourceMemo } from './memo.js';
import type { ConnectedNode, GenerationInput } from './types.js';

export function ingressSnapshot(memo: ResourceMemo, input: GenerationInput, node: ConnectedNode): Snapshot {
  const zi = input.zoneIngresses.find((z) => z.name === node.name && isLocal(z));
  if (!zi) return Snapshot.empty();
  const address = zi.spec.networking.address ?? '';
  const port = zi.spec.networking.port;
  const services: IngressService[] = [];
  for (const m of input.meshes) {
    const local = meshEndpoints({ mesh: m.name, zone: input.zone, dataplanes: input.dataplanes, zoneIngresses: [] });
    for (const [service, endpoints] of local) services.push({ mesh: m.name, service, endpoints });
  }
  services.sort((a, b) => (a.mesh + '\u0000' + a.service < b.mesh + '\u0000' + b.service ? -1 : 1));
  const clusters = services.map((s) => memo.get(CDS, `zi\u0000${s.mesh}\u0000${s.service}`, Cluster, `${s.mesh}:${s.service}`, () => ingressCluster(s)));
  const clas = services.map((s) =>
    memo.get(EDS, `zi\u0000${s.mesh}\u0000${s.service}\u0000${JSON.stringify(s.endpoints.zones)}`, ClusterLoadAssignment, `${s.mesh}:${s.service}`, () => ingressLoadAssignment(s, input.zone)),
  );
  const listeners = address !== '' && port > 0 ? [memo.get(LDS, `zi\u0000${address}:${port}\u0000${services.map((s) => `${s.mesh}/${s.service}`).join(',')}`, Listener, `inbound:${address}:${port}`, () => ingressListener(address, port, services))] : [];
  return Snapshot.fromSets(new Map([[CDS, typeSetOf(CDS, clusters)], [EDS, typeSetOf(EDS, clas)], [LDS, typeSetOf(LDS, listeners)]]));
}
