/**
 * The snapshot of a zone egress (Kuma `pkg/xds/generator/egress/generator.go`): one listener
 * `inbound:<address>:<port>` with a TLS inspector, whose filter chains are matched by SNI:
 * - for every service of another zone, in every mesh with `routing.zoneEgress` (and mTLS), the sidecar's
 *   SNI `<service>{mesh=<mesh>}` -> a TCP proxy to cluster `<mesh>:<service>`, whose endpoints are the other
 *   zones' ingresses (advertised address and port, weighted by instances): the bytes stay encrypted end to
 *   end, sidecar to sidecar, as through an ingress (`ingress.ts`, the same resource shapes);
 * - for every MeshExternalService of a mesh with mTLS (whatever `routing.zoneEgress` says, as in Kuma), a
 *   chain matched by its SNI that terminates the sidecar's mTLS with the egress's own certificate of that
 *   mesh (`spiffe://<mesh>/zone-egress`, SDS `identity_cert:secret:<mesh>` and `mesh_ca:secret:<mesh>`) and
 *   sends the traffic on to the service's endpoints, with TLS per its `spec.tls` (`external-services.ts`).
 * - for proxyless gRPC clients of meshes with `routing.zoneEgress`, one plaintext chain (`raw_buffer`) with
 *   an HTTP/2 route per service of the mesh by its name, originating mesh mTLS as the egress to this zone's
 *   sidecars and other zones' ingresses (`egress-proxyless.ts`).
 * No listener when no chain would be in it (Envoy rejects a listener without filter chains).
 */
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { Secret } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS, SECRET_TYPE_URL as SDS } from '@ursa/proto/xds';
import type { WorkloadCertificates } from '../certs.js';
import { externalServiceCluster, externalServiceEgressChain, externalServiceModels, type ExternalServiceModel } from './external-services.js';
import { caSecret, identitySecret } from './tls.js';
import { isLocal } from '../../model/dataplane.js';
import { Snapshot, typeSetOf, type VersionedResource } from '../snapshot.js';
import { egressProxylessServices, egressRemoteServices, meshCa, proxylessEgressChain, proxylessEgressCluster, proxylessEgressClusterName, proxylessEgressLoadAssignment, proxylessEgressNames } from './egress-proxyless.js';
import { meshModel } from './model.js';
import { ingressCluster, ingressListener } from './ingress.js';
import { loadAssignmentFor } from './eds.js';
import { caSecretName, identitySecretName, ingressClusterName, ZONE_EGRESS_SERVICE } from './naming.js';
import type { ResourceMemo } from './memo.js';
import type { ConnectedNode, GenerationInput } from './types.js';

/** The name the egress's certificates are held under per mesh (`:` is in no Dataplane name: no clash). */
export const egressCertName = (egress: string): string => `zone-egress:${egress}`;

export async function egressSnapshot(memo: ResourceMemo, certs: WorkloadCertificates, input: GenerationInput, node: ConnectedNode): Promise<Snapshot> {
  const ze = (input.zoneEgresses ?? []).find((z) => z.name === node.name && isLocal(z));
  if (!ze) return Snapshot.empty();
  const address = ze.spec.networking.address ?? '';
  const port = ze.spec.networking.port;
  const services = egressRemoteServices(input);
  const candidates = egressProxylessServices(input);
  const names = proxylessEgressNames(input, candidates);
  const proxyless = candidates.filter((p) => names.get(p.mesh)?.has(p.service));
  const localityAware = new Set(input.meshes.filter((m) => meshModel(m).localityAware).map((m) => m.name));
  const external = await externalServices(memo, certs, input, node, new Set(proxyless.map((p) => p.mesh)));
  const clusters = [
    ...external.clusters,
    ...services.map((s) => memo.get(CDS, `ze\u0000${s.mesh}\u0000${s.service}`, Cluster, ingressClusterName(s.mesh, s.service), () => ingressCluster(s))),
    ...proxyless.map((p) => memo.get(CDS, `ze\u0000pl\u0000${p.mesh}\u0000${p.service}`, Cluster, proxylessEgressClusterName(p.mesh, p.service), () => proxylessEgressCluster(p.mesh, p.service))),
  ];
  const clas = [
    ...services.map((s) =>
      memo.get(EDS, `ze\u0000${s.mesh}\u0000${s.service}\u0000${JSON.stringify(s.endpoints.zones)}`, ClusterLoadAssignment, ingressClusterName(s.mesh, s.service), () =>
        loadAssignmentFor(ingressClusterName(s.mesh, s.service), s.endpoints, { localZone: input.zone, includeRemote: true }),
      ),
    ),
    ...proxyless.map((p) => {
      const aware = localityAware.has(p.mesh);
      return memo.get(EDS, `ze\u0000pl\u0000${p.mesh}\u0000${p.service}\u0000${aware}\u0000${JSON.stringify(p.endpoints.zones)}`, ClusterLoadAssignment, proxylessEgressClusterName(p.mesh, p.service), () =>
        proxylessEgressLoadAssignment(p, input.zone, aware),
      );
    }),
  ];
  const chainsKey = `${services.map((s) => `${s.mesh}/${s.service}`).join(',')}\u0000${external.models.map((m) => m.key).join(',')}\u0000${proxyless.map((p) => `${p.mesh}/${p.service}`).join(',')}`;
  const extra = [...external.models.map(externalServiceEgressChain), ...(proxyless.length > 0 ? [proxylessEgressChain(proxyless)] : [])];
  const listeners =
    address !== '' && port > 0 && services.length + external.models.length + proxyless.length > 0
      ? [memo.get(LDS, `ze\u0000${address}:${port}\u0000${chainsKey}`, Listener, `inbound:${address}:${port}`, () => ingressListener(address, port, services, extra))]
      : [];
  return Snapshot.fromSets(
    new Map([[CDS, typeSetOf(CDS, clusters)], [EDS, typeSetOf(EDS, clas)], [LDS, typeSetOf(LDS, listeners)], [SDS, typeSetOf(SDS, external.secrets)]]),
  );
}

/**
 * The MeshExternalServices the egress serves, their clusters, and its certificate and CA of every mesh that
 * has one or a proxyless path (`proxylessMeshes`): meshes with mTLS whose CA has arrived (without it the
 * egress could not terminate the sidecars' mTLS; they wait for it like the sidecars do).
 */
async function externalServices(memo: ResourceMemo, certs: WorkloadCertificates, input: GenerationInput, node: ConnectedNode, proxylessMeshes: ReadonlySet<string>) {
  const models: ExternalServiceModel[] = [];
  const clusters: VersionedResource[] = [];
  const secrets: VersionedResource[] = [];
  for (const m of [...input.meshes].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const ca = meshCa(input, m);
    if (!ca) continue;
    const list = externalServiceModels(m.name, input.externalServices ?? [], input.secrets);
    if (list.length === 0 && !proxylessMeshes.has(m.name)) continue;
    const { certPem, keyPem } = ca;
    const cert = await certs.get(m.name, egressCertName(node.name), [ZONE_EGRESS_SERVICE], { certPem, keyPem });
    secrets.push(
      memo.get(SDS, `ze\u0000id\u0000${m.name}\u0000${cert.certPem}`, Secret, identitySecretName(m.name), () => identitySecret(m.name, cert.certPem, cert.keyPem)),
      memo.get(SDS, `ze\u0000ca\u0000${m.name}\u0000${certPem}`, Secret, caSecretName(m.name), () => caSecret(m.name, certPem)),
    );
    for (const x of list) {
      models.push(x);
      clusters.push(memo.get(CDS, `ze\u0000mes\u0000${x.key}`, Cluster, x.cluster, () => externalServiceCluster(x)));
    }
  }
  return { models, clusters, secrets };
}
