/**
 * Zone ingress resources (pure; Kuma `pkg/xds/generator/zoneproxy/generator.go`). A zone ingress serves
 * every mesh: for each service with healthy instances in this zone it has
 * - a filter chain in listener `inbound:<address>:<port>` matching TLS with the SNI `<service>{mesh=<mesh>}`
 *   (`tls_inspector` reads the ClientHello), whose TCP proxy forwards the still-encrypted bytes: the two
 *   sidecars do mTLS end to end and the ingress never holds a mesh key;
 * - a cluster `<mesh>:<service>` (EDS) and its ClusterLoadAssignment of the local instances.
 * A connection whose SNI matches nothing is closed by Envoy (no default filter chain).
 */
import { TrafficDirection } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import type { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import type { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import type { FilterChain } from '@ursa/proto/gen/envoy/config/listener/v3/listener_components.js';
import { TlsInspector } from '@ursa/proto/gen/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.js';
import { packAny } from '../hash.js';
import { TLS_INSPECTOR_TYPE_URL } from '../type-urls.js';
import { edsCluster, socketAddress, tcpProxyFilter } from './envoy.js';
import { loadAssignmentFor } from './eds.js';
import type { ServiceEndpoints } from './endpoints.js';
import { ingressClusterName, inboundListenerName, sniFor } from './naming.js';

export interface IngressService {
  readonly mesh: string;
  readonly service: string;
  /** Local endpoints only. */
  readonly endpoints: ServiceEndpoints;
}

/** `extra`: chains after the passthrough ones (a zone egress's MeshExternalService chains). */
export function ingressListener(address: string, port: number, services: readonly IngressService[], extra: readonly FilterChain[] = []): Listener {
  const name = inboundListenerName(address, port);
  return Listener.fromPartial({
    name,
    address: socketAddress(address, port),
    trafficDirection: TrafficDirection.INBOUND,
    listenerFilters: [{ name: 'envoy.filters.listener.tls_inspector', configType: { $case: 'typedConfig', value: packAny(TLS_INSPECTOR_TYPE_URL, TlsInspector, TlsInspector.fromPartial({})) } }],
    filterChains: [...services.map((s) => {
      const cluster = ingressClusterName(s.mesh, s.service);
      return {
        name: sniFor(s.service, s.mesh),
        filterChainMatch: { serverNames: [sniFor(s.service, s.mesh)], transportProtocol: 'tls' },
        filters: [tcpProxyFilter(cluster, { $case: 'cluster', value: cluster })],
      };
    }), ...extra],
  });
}

export function ingressCluster(s: IngressService): Cluster {
  return edsCluster(ingressClusterName(s.mesh, s.service));
}

export function ingressLoadAssignment(s: IngressService, localZone: string): ClusterLoadAssignment {
  return loadAssignmentFor(ingressClusterName(s.mesh, s.service), s.endpoints, { localZone, includeRemote: false });
}
