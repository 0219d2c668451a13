/**
 * Lossless round trips through Envoy's own protobuf types (for tests and diagnostics): a resource's bytes
 * must decode and re-encode to the same bytes, in binary and through proto JSON, and so must every `Any`
 * inside it whose type the generator uses. A field Envoy's schema does not know, or a value it cannot
 * carry, shows up as a difference.
 */
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import { TlsInspector } from '@ursa/proto/gen/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.js';
import { DatadogConfig } from '@ursa/proto/gen/envoy/config/trace/v3/datadog.js';
import { OpenTelemetryConfig } from '@ursa/proto/gen/envoy/config/trace/v3/opentelemetry.js';
import { ZipkinConfig } from '@ursa/proto/gen/envoy/config/trace/v3/zipkin.js';
import { FileAccessLog } from '@ursa/proto/gen/envoy/extensions/access_loggers/file/v3/file.js';
import { OpenTelemetryAccessLogConfig } from '@ursa/proto/gen/envoy/extensions/access_loggers/open_telemetry/v3/logs_service.js';
import { HTTPFault } from '@ursa/proto/gen/envoy/extensions/filters/http/fault/v3/fault.js';
import { LocalRateLimit as HttpLocalRateLimit } from '@ursa/proto/gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js';
import { LocalRateLimit as NetworkLocalRateLimit } from '@ursa/proto/gen/envoy/extensions/filters/network/local_ratelimit/v3/local_rate_limit.js';
import { RBAC as HttpRBAC } from '@ursa/proto/gen/envoy/extensions/filters/http/rbac/v3/rbac.js';
import { Router } from '@ursa/proto/gen/envoy/extensions/filters/http/router/v3/router.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { RBAC as NetworkRBAC } from '@ursa/proto/gen/envoy/extensions/filters/network/rbac/v3/rbac.js';
import { TcpProxy } from '@ursa/proto/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { Secret } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { DownstreamTlsContext, UpstreamTlsContext } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { HttpProtocolOptions } from '@ursa/proto/gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL, SECRET_TYPE_URL } from '@ursa/proto/xds';
import { encodeCanonical } from '../hash.js';
import {
  DATADOG_TYPE_URL,
  FAULT_TYPE_URL,
  FILE_ACCESS_LOG_TYPE_URL,
  HTTP_LOCAL_RATE_LIMIT_TYPE_URL,
  NETWORK_LOCAL_RATE_LIMIT_TYPE_URL,
  OTEL_ACCESS_LOG_TYPE_URL,
  OTEL_TRACE_TYPE_URL,
  ZIPKIN_TYPE_URL,
  DOWNSTREAM_TLS_TYPE_URL,
  HCM_TYPE_URL,
  HTTP_PROTOCOL_OPTIONS_TYPE_URL,
  NETWORK_RBAC_TYPE_URL,
  RBAC_TYPE_URL,
  ROUTER_TYPE_URL,
  TCP_PROXY_TYPE_URL,
  TLS_INSPECTOR_TYPE_URL,
  UPSTREAM_TLS_TYPE_URL,
} from '../type-urls.js';

interface Fns {
  encode(m: never): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
  toJSON(m: never): unknown;
  fromJSON(o: unknown): unknown;
}

const CODECS = new Map<string, Fns>([
  [CLUSTER_TYPE_URL, Cluster],
  [CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, ClusterLoadAssignment],
  [LISTENER_TYPE_URL, Listener],
  [ROUTE_CONFIGURATION_TYPE_URL, RouteConfiguration],
  [SECRET_TYPE_URL, Secret],
  [HCM_TYPE_URL, HttpConnectionManager],
  [TCP_PROXY_TYPE_URL, TcpProxy],
  [NETWORK_RBAC_TYPE_URL, NetworkRBAC],
  [ROUTER_TYPE_URL, Router],
  [RBAC_TYPE_URL, HttpRBAC],
  [TLS_INSPECTOR_TYPE_URL, TlsInspector],
  [UPSTREAM_TLS_TYPE_URL, UpstreamTlsContext],
  [DOWNSTREAM_TLS_TYPE_URL, DownstreamTlsContext],
  [HTTP_PROTOCOL_OPTIONS_TYPE_URL, HttpProtocolOptions],
  // Policy fragments (MeshFaultInjection, MeshRateLimit, MeshAccessLog, MeshTrace).
  [FAULT_TYPE_URL, HTTPFault],
  [HTTP_LOCAL_RATE_LIMIT_TYPE_URL, HttpLocalRateLimit],
  [NETWORK_LOCAL_RATE_LIMIT_TYPE_URL, NetworkLocalRateLimit],
  [FILE_ACCESS_LOG_TYPE_URL, FileAccessLog],
  [OTEL_ACCESS_LOG_TYPE_URL, OpenTelemetryAccessLogConfig],
  [ZIPKIN_TYPE_URL, ZipkinConfig],
  [DATADOG_TYPE_URL, DatadogConfig],
  [OTEL_TRACE_TYPE_URL, OpenTelemetryConfig],
]);

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Differences found (empty when `bytes` survive every round trip), naming the type and the path. */
export function roundTripProblems(typeUrl: string, bytes: Uint8Array, path = ''): string[] {
  const codec = CODECS.get(typeUrl);
  if (!codec) return [`${path || '/'}: no Envoy type known for ${typeUrl}`];
  const out: string[] = [];
  const decoded = codec.decode(bytes);
  if (!same(codec.encode(decoded as never).finish(), bytes)) out.push(`${path || '/'} ${typeUrl}: binary re-encoding differs`);
  const viaJson = codec.fromJSON(JSON.parse(JSON.stringify(codec.toJSON(decoded as never))));
  if (!same(encodeCanonical(codec as never, viaJson as never), bytes)) out.push(`${path || '/'} ${typeUrl}: JSON round trip differs`);
  walk(decoded, path, (p, any) => out.push(...roundTripProblems(any.typeUrl, any.value, p)));
  return out;
}

function walk(v: unknown, path: string, onAny: (path: string, any: { typeUrl: string; value: Uint8Array }) => void): void {
  if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`, onAny));
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
  const o = v as Record<string, unknown>;
  if (typeof o.typeUrl === 'string' && o.value instanceof Uint8Array && Object.keys(o).length === 2) return onAny(path, o as { typeUrl: string; value: Uint8Array });
  for (const [k, x] of Object.entries(o)) walk(x, `${path}/${k}`, onAny);
}

/** Proto JSON of encoded bytes, nested `Any`s decoded with `@type` (for golden files and diagnostics). */
export function envoyJson(typeUrl: string, bytes: Uint8Array): unknown {
  const codec = CODECS.get(typeUrl);
  if (!codec) return { '@type': typeUrl, value: Buffer.from(bytes).toString('base64') };
  return { '@type': typeUrl, ...(expandAnys(codec.toJSON(codec.decode(bytes) as never)) as object) };
}

function expandAnys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expandAnys);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  // ts-proto prints an Any as {typeUrl, value: base64}, and omits an empty value.
  if (typeof o.typeUrl === 'string' && Object.keys(o).every((k) => k === 'typeUrl' || k === 'value')) {
    return envoyJson(o.typeUrl, Buffer.from(typeof o.value === 'string' ? o.value : '', 'base64'));
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, expandAnys(x)]));
}
