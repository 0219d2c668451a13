/**
 * The `type_url`s of the messages the generator packs inside `Any`s (filters, transport sockets, protocol
 * options), in one place so builders, consistency checks and round-trip tests cannot drift apart. The
 * resource types served over ADS (Cluster, Listener, ...) live in proto/src/xds-types.ts.
 */
const T = 'type.googleapis.com/';

export const HCM_TYPE_URL = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
export const TCP_PROXY_TYPE_URL = `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`;
export const NETWORK_RBAC_TYPE_URL = `${T}envoy.extensions.filters.network.rbac.v3.RBAC`;
export const ROUTER_TYPE_URL = `${T}envoy.extensions.filters.http.router.v3.Router`;
export const RBAC_TYPE_URL = `${T}envoy.extensions.filters.http.rbac.v3.RBAC`;
export const TLS_INSPECTOR_TYPE_URL = `${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`;
export const UPSTREAM_TLS_TYPE_URL = `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`;
export const DOWNSTREAM_TLS_TYPE_URL = `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`;
export const HTTP_PROTOCOL_OPTIONS_TYPE_URL = `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`;
