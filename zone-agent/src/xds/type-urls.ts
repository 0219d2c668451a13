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
export const FAULT_TYPE_URL = `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`;
export const HTTP_LOCAL_RATE_LIMIT_TYPE_URL = `${T}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`;
export const NETWORK_LOCAL_RATE_LIMIT_TYPE_URL = `${T}envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit`;
export const FILE_ACCESS_LOG_TYPE_URL = `${T}envoy.extensions.access_loggers.file.v3.FileAccessLog`;
export const OTEL_ACCESS_LOG_TYPE_URL = `${T}envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig`;
export const ZIPKIN_TYPE_URL = `${T}envoy.config.trace.v3.ZipkinConfig`;
export const DATADOG_TYPE_URL = `${T}envoy.config.trace.v3.DatadogConfig`;
export const OTEL_TRACE_TYPE_URL = `${T}envoy.config.trace.v3.OpenTelemetryConfig`;
