/**
 * The cluster Envoy reaches a telemetry collector through (MeshTrace tracers, MeshAccessLog OpenTelemetry
 * backends), Kuma's shape: STRICT_DNS on the collector's host and port, IPv4 lookups, 5 s connect timeout,
 * HTTP/2 upstream for gRPC collectors (OTLP).
 */
import { Cluster, Cluster_DiscoveryType, Cluster_DnsLookupFamily } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { HttpProtocolOptions } from '@ursa/proto/gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js';
import { packAny } from '../../hash.js';
import { HTTP_PROTOCOL_OPTIONS_TYPE_URL } from '../../type-urls.js';

export function collectorCluster(name: string, host: string, port: number, http2: boolean): Cluster {
  const h2 = HttpProtocolOptions.fromPartial({ upstreamProtocolOptions: { $case: 'explicitHttpConfig', value: { protocolConfig: { $case: 'http2ProtocolOptions', value: {} } } } });
  return Cluster.fromPartial({
    name,
    altStatName: name.replace(/:/g, '_'),
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.STRICT_DNS },
    dnsLookupFamily: Cluster_DnsLookupFamily.V4_ONLY,
    connectTimeout: { seconds: 5, nanos: 0 },
    loadAssignment: {
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ hostIdentifier: { $case: 'endpoint', value: { address: { address: { $case: 'socketAddress', value: { address: host, portSpecifier: { $case: 'portValue', value: port } } } } } } }] }],
    },
    typedExtensionProtocolOptions: http2 ? { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(HTTP_PROTOCOL_OPTIONS_TYPE_URL, HttpProtocolOptions, h2) } : {},
  });
}
