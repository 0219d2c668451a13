/**
 * Envoy sidecar resources (pure), Kuma's layout (`pkg/xds/generator/{inbound,outbound}_proxy_generator.go`):
 *
 * - per inbound, a listener `inbound:<ip>:<port>` bound to the inbound's address, with mTLS when the mesh
 *   has it (`tls.ts`), forwarding to the application through cluster `localhost:<servicePort>` (STATIC, the
 *   inbound's `serviceAddress`, default 127.0.0.1). HTTP-aware protocols (`kuma.io/protocol` http, http2,
 *   grpc) get an HttpConnectionManager, where the inbound HTTP filters go (MeshTrafficPermission's RBAC);
 *   everything else a TCP proxy;
 * - per destination service, a cluster `<service>` (EDS over ADS, decorated by the outbound policies; with
 *   mTLS it presents the proxy's identity and sends Kuma's SNI), and its ClusterLoadAssignment (`eds.ts`);
 * - per outbound (declared in `networking.outbound`, or a service VIP when transparent proxying is on, on
 *   the service's port and on port 80), a listener `outbound:<ip>:<port>` routing to the cluster (HTTP
 *   routes or TCP routes from the policies);
 * - with transparent proxying, the catch-all listeners `outbound:passthrough:ipv4` / `inbound:passthrough:
 *   ipv4` on the redirect ports (use_original_dst hands each connection to the listener of its original
 *   destination; anything else passes through to where it was going), and VIP/inbound listeners that do not
 *   bind (`bind_to_port: false`): iptables delivers to the redirect ports.
 *
 * Policy hook points are the `OutboundHooks` / `InboundHooks` arguments: the generator fills them from the
 * policy engine (`../policy/index.ts`); the identity hooks here change nothing.
 */
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { TrafficDirection } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import type { Filter } from '@ursa/proto/gen/envoy/config/listener/v3/listener_components.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import type { Route } from '@ursa/proto/gen/envoy/config/route/v3/route_components.js';
import type { HttpConnectionManager, HttpFilter } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import type { TcpProxy } from '@ursa/proto/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { CONNECT_TIMEOUT, edsCluster, hcmFilter, http2Options, socketAddress, tcpProxyFilter } from './envoy.js';
import { isHttp, type InboundModel, type MeshModel, type Protocol } from './model.js';
import { INBOUND_PASSTHROUGH, inboundListenerName, localClusterName, OUTBOUND_PASSTHROUGH, outboundClusterName, outboundListenerName } from './naming.js';
import { inboundTls, outboundTls } from './tls.js';

/** What policies contribute to one destination (identity: `IDENTITY_OUTBOUND`). */
export interface OutboundHooks {
  decorateCluster(cluster: Cluster, protocol: Protocol): Cluster;
  /** Routes of the destination's virtual host; `cluster` names the cluster of a backend service. */
  /** Routes of the destination's virtual host; `protocol` picks e.g. MeshRetry's `grpc` or `http` section. */
  httpRoutes(clusterFor: (service: string) => string, protocol: Protocol): Route[];
  tcpClusterSpecifier(clusterFor: (service: string) => string): TcpProxy['clusterSpecifier'];
  /** Services other than the destination its routes send traffic to (their clusters must exist). */
  readonly backendServices: readonly string[];
  /** The outbound listener's HCM / TcpProxy (MeshAccessLog, MeshTrace). */
  decorateHcm?(hcm: HttpConnectionManager): HttpConnectionManager;
  decorateTcpProxy?(tcp: TcpProxy): TcpProxy;
}

/** What policies contribute to one inbound (identity: `IDENTITY_INBOUND`). */
export interface InboundHooks {
  /** HTTP filters before the router (RBAC...). */
  httpFilters(): HttpFilter[];
  /** Network filters before the TCP proxy of a non-HTTP inbound. */
  networkFilters(): Filter[];
  decorateHcm(hcm: HttpConnectionManager): HttpConnectionManager;
  /** The TcpProxy of a non-HTTP inbound (MeshAccessLog). */
  decorateTcpProxy?(tcp: TcpProxy): TcpProxy;
}

const defaultRoute = (cluster: string): Route[] => [
  { match: { pathSpecifier: { $case: 'prefix', value: '/' } }, action: { $case: 'route', value: { clusterSpecifier: { $case: 'cluster', value: cluster } } } } as Route,
];

export const IDENTITY_INBOUND: InboundHooks = { httpFilters: () => [], networkFilters: () => [], decorateHcm: (h) => h };

// ---- outbound --------------------------------------------------------------------------------------------

export function outboundCluster(mesh: MeshModel, service: string, protocol: Protocol, hooks: OutboundHooks): Cluster {
  const base = edsCluster(outboundClusterName(service), {
    transportSocket: mesh.mtls ? outboundTls(mesh.name, service) : undefined,
    typedExtensionProtocolOptions: protocol === 'grpc' || protocol === 'http2' ? http2Options() : {},
  });
  return hooks.decorateCluster(base, protocol);
}

/** An outbound listener at `address:port` for `service`. `bind`: false under transparent proxying. */
export function outboundListener(address: string, port: number, service: string, protocol: Protocol, hooks: OutboundHooks, bind: boolean): Listener {
  const name = outboundListenerName(address, port);
  const filter = isHttp(protocol)
    ? hcmFilter(name, RouteConfiguration.fromPartial({ name: `outbound:${service}`, virtualHosts: [{ name: service, domains: ['*'], routes: hooks.httpRoutes(outboundClusterName, protocol) }] }), [], hooks.decorateHcm?.bind(hooks))
    : tcpProxyFilter(name, hooks.tcpClusterSpecifier(outboundClusterName), hooks.decorateTcpProxy?.bind(hooks));
  return Listener.fromPartial({
    name,
    address: socketAddress(address, port),
    trafficDirection: TrafficDirection.OUTBOUND,
    bindToPort: bind ? undefined : false,
    filterChains: [{ filters: [filter] }],
  });
}

// ---- inbound ---------------------------------------------------------------------------------------------

export function localCluster(inbound: InboundModel): Cluster {
  const name = localClusterName(inbound.servicePort);
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.STATIC },
    connectTimeout: CONNECT_TIMEOUT,
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
    typedExtensionProtocolOptions: inbound.protocol === 'grpc' || inbound.protocol === 'http2' ? http2Options() : {},
    loadAssignment: ClusterLoadAssignment.fromPartial({
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ hostIdentifier: { $case: 'endpoint', value: { address: socketAddress(inbound.serviceAddress, inbound.servicePort) } } }] }],
    }),
  });
}

export function inboundListener(mesh: MeshModel, inbound: InboundModel, hooks: InboundHooks, bind: boolean): Listener {
  const name = inboundListenerName(inbound.address, inbound.port);
  const cluster = localClusterName(inbound.servicePort);
  const filters = isHttp(inbound.protocol)
    ? [
        hcmFilter(
          name,
          RouteConfiguration.fromPartial({ name: `inbound:${inbound.service}`, virtualHosts: [{ name: inbound.service, domains: ['*'], routes: defaultRoute(cluster) }] }),
          hooks.httpFilters(),
          (h) => hooks.decorateHcm(h),
        ),
      ]
    : [...hooks.networkFilters(), tcpProxyFilter(name, { $case: 'cluster', value: cluster }, hooks.decorateTcpProxy?.bind(hooks))];
  return Listener.fromPartial({
    name,
    address: socketAddress(inbound.address, inbound.port),
    trafficDirection: TrafficDirection.INBOUND,
    bindToPort: bind ? undefined : false,
    filterChains: [{ filters, transportSocket: mesh.mtls ? inboundTls(mesh.name) : undefined }],
  });
}

// ---- transparent proxying --------------------------------------------------------------------------------

/** The catch-all listener and its ORIGINAL_DST cluster for one direction. */
export function passthrough(direction: 'inbound' | 'outbound', port: number): { listener: Listener; cluster: Cluster } {
  const name = direction === 'inbound' ? INBOUND_PASSTHROUGH : OUTBOUND_PASSTHROUGH;
  const cluster = Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.ORIGINAL_DST },
    lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
    connectTimeout: CONNECT_TIMEOUT,
  });
  const listener = Listener.fromPartial({
    name,
    address: socketAddress('0.0.0.0', port),
    trafficDirection: direction === 'inbound' ? TrafficDirection.INBOUND : TrafficDirection.OUTBOUND,
    useOriginalDst: true,
    filterChains: [{ filters: [tcpProxyFilter(name, { $case: 'cluster', value: name })] }],
  });
  return { listener, cluster };
}
