/**
 * Small builders of Envoy messages every generator uses (pure). Each packs nested `Any`s canonically
 * (`packAny`), so equal configs encode to equal bytes and keep equal versions.
 */
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { Address } from '@ursa/proto/gen/envoy/config/core/v3/address.js';
import type { TransportSocket } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { ApiVersion, ConfigSource } from '@ursa/proto/gen/envoy/config/core/v3/config_source.js';
import type { Filter } from '@ursa/proto/gen/envoy/config/listener/v3/listener_components.js';
import type { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import { Router } from '@ursa/proto/gen/envoy/extensions/filters/http/router/v3/router.js';
import {
  HttpConnectionManager,
  HttpConnectionManager_CodecType,
  type HttpFilter,
} from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { TcpProxy } from '@ursa/proto/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { HttpProtocolOptions } from '@ursa/proto/gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js';
import { packAny } from '../hash.js';
import { HCM_TYPE_URL, HTTP_PROTOCOL_OPTIONS_TYPE_URL, ROUTER_TYPE_URL, TCP_PROXY_TYPE_URL } from '../type-urls.js';

export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
/** Kuma's default connect timeout (MeshTimeout `connectionTimeout`; a policy overrides it). */
export const CONNECT_TIMEOUT = { seconds: 5, nanos: 0 };

export const adsSource = (): ConfigSource => ConfigSource.fromPartial({ configSourceSpecifier: { $case: 'ads', value: {} }, resourceApiVersion: ApiVersion.V3 });

export const socketAddress = (address: string, port: number): Address =>
  Address.fromPartial({ address: { $case: 'socketAddress', value: { address, portSpecifier: { $case: 'portValue', value: port } } } });

export const typedFilter = (name: string, typeUrl: string, value: Buffer): Filter => ({ name, configType: { $case: 'typedConfig', value: { typeUrl, value } } });

export function tcpProxyFilter(statPrefix: string, clusterSpecifier: TcpProxy['clusterSpecifier'], decorate: (tcp: TcpProxy) => TcpProxy = (t) => t): Filter {
  const tcp = decorate(TcpProxy.fromPartial({ statPrefix, clusterSpecifier }));
  const any = packAny(TCP_PROXY_TYPE_URL, TcpProxy, tcp);
  return typedFilter('envoy.filters.network.tcp_proxy', any.typeUrl, any.value as Buffer);
}

export const routerFilter = (): HttpFilter => ({
  name: 'envoy.filters.http.router',
  configType: { $case: 'typedConfig', value: packAny(ROUTER_TYPE_URL, Router, Router.fromPartial({})) },
  isOptional: false,
  disabled: false,
});

/** An HttpConnectionManager network filter with an inline route table; `httpFilters` go before the router. */
export function hcmFilter(statPrefix: string, routeConfig: RouteConfiguration, httpFilters: readonly HttpFilter[], decorate: (hcm: HttpConnectionManager) => HttpConnectionManager = (h) => h): Filter {
  const hcm = decorate(
    HttpConnectionManager.fromPartial({
      codecType: HttpConnectionManager_CodecType.AUTO,
      statPrefix,
      routeSpecifier: { $case: 'routeConfig', value: routeConfig },
      httpFilters: [...httpFilters, routerFilter()],
    }),
  );
  const any = packAny(HCM_TYPE_URL, HttpConnectionManager, hcm);
  return typedFilter('envoy.filters.network.http_connection_manager', any.typeUrl, any.value as Buffer);
}

/** Upstream HTTP/2 (gRPC and http2 services need it end to end). */
export function http2Options(): Cluster['typedExtensionProtocolOptions'] {
  const opts = HttpProtocolOptions.fromPartial({
    upstreamProtocolOptions: { $case: 'explicitHttpConfig', value: { protocolConfig: { $case: 'http2ProtocolOptions', value: {} } } },
  });
  return { [HTTP_PROTOCOL_OPTIONS_KEY]: packAny(HTTP_PROTOCOL_OPTIONS_TYPE_URL, HttpProtocolOptions, opts) };
}

export function edsCluster(name: string, extra: Partial<Cluster> = {}): Cluster {
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: adsSource(), serviceName: name },
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
    connectTimeout: CONNECT_TIMEOUT,
    ...extra,
  });
}

export const tlsTransportSocket = (typeUrl: string, value: Buffer): TransportSocket => ({ name: 'envoy.transport_sockets.tls', configType: { $case: 'typedConfig', value: { typeUrl, value } } });
