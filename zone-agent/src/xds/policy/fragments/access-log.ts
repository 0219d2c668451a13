/**
 * MeshAccessLog (pure), Kuma `meshaccesslog/plugin/xds`: the merged `backends` of an inbound (`from` /
 * `rules`) or of a destination (`to`) as Envoy access loggers on the listener's HttpConnectionManager or
 * TcpProxy:
 * - `File`: `envoy.access_loggers.file` writing to `path`, Kuma's default format for the protocol or the
 *   backend's `plain` text / `json` fields;
 * - `Tcp`: the same file logger writing to kuma-dp's access log socket (`/tmp/kuma-al-<name>-<mesh>.sock`),
 *   each line a JSON object `{address, message}` that kuma-dp forwards to `address` over TCP (Envoy has no
 *   TCP logger of its own; a plain Envoy just writes the lines to that path);
 * - `OpenTelemetry`: `envoy.access_loggers.open_telemetry` exporting over OTLP/gRPC through the cluster
 *   `meshaccesslog:opentelemetry:<host>:<port>` (`accessLogClusters`), the body Kuma's default format (or
 *   the backend's `body`), resource attributes `kuma.mesh` / `kuma.zone`.
 * `%KUMA_MESH%`, `%KUMA_SOURCE_SERVICE%` and the other Kuma placeholders are filled in here, as Kuma does;
 * Envoy's own (`%START_TIME%` ...) are left for Envoy.
 * Difference: Kuma numbers its OpenTelemetry clusters per proxy (`meshaccesslog:opentelemetry:0`); Ursa
 * names them by endpoint so listeners shared by many proxies name the same cluster.
 */
import type { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { AccessLog } from '@ursa/proto/gen/envoy/config/accesslog/v3/accesslog.js';
import { ApiVersion } from '@ursa/proto/gen/envoy/config/core/v3/config_source.js';
import type { SubstitutionFormatString } from '@ursa/proto/gen/envoy/config/core/v3/substitution_format_string.js';
import { FileAccessLog } from '@ursa/proto/gen/envoy/extensions/access_loggers/file/v3/file.js';
import { OpenTelemetryAccessLogConfig } from '@ursa/proto/gen/envoy/extensions/access_loggers/open_telemetry/v3/logs_service.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { TcpProxy } from '@ursa/proto/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { AnyValue } from '@ursa/proto/gen/opentelemetry/proto/common/v1/common.js';
import { isRecord } from '@ursa/proto';
import { packAny } from '../../hash.js';
import { FILE_ACCESS_LOG_TYPE_URL, OTEL_ACCESS_LOG_TYPE_URL } from '../../type-urls.js';
import type { AccessLogBackend, AccessLogConf, AccessLogFormat } from '../types.js';
import { collectorCluster } from './collector.js';
import { hostPort } from './convert.js';

const DEFAULT_TCP_FORMAT =
  '[%START_TIME%] %RESPONSE_FLAGS% %KUMA_MESH% %KUMA_SOURCE_ADDRESS_WITHOUT_PORT%(%KUMA_SOURCE_SERVICE%)->%UPSTREAM_HOST%(%KUMA_DESTINATION_SERVICE%) took %DURATION%ms, sent %BYTES_SENT% bytes, received: %BYTES_RECEIVED% bytes';
const DEFAULT_HTTP_FORMAT =
  '[%START_TIME%] %KUMA_MESH% "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-B3-TRACEID?X-DATADOG-TRACEID)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%KUMA_SOURCE_SERVICE%" "%KUMA_DESTINATION_SERVICE%" "%KUMA_SOURCE_ADDRESS_WITHOUT_PORT%" "%UPSTREAM_HOST%"';
/** OTLP/gRPC's port when an endpoint names none. */
const OTLP_PORT = 4317;

/** What Kuma's placeholders stand for on one listener. */
export interface AccessLogValues {
  readonly http: boolean;
  readonly direction: 'INBOUND' | 'OUTBOUND';
  readonly mesh: string;
  readonly zone: string;
  /** The Dataplane's address. */
  readonly sourceIp: string;
  /** Outbound: this proxy's service; inbound: `unknown` (the client is not known when the config is built). */
  readonly sourceService: string;
  readonly destinationService: string;
  /** kuma-dp's access log socket for `Tcp` backends. */
  readonly socketPath: string;
}

/** kuma-dp's access log socket for a proxy (Kuma `AccessLogSocketName` under kuma-dp's default work dir). */
export const accessLogSocketPath = (name: string, mesh: string): string => `/tmp/kuma-al-${name}-${mesh}.sock`;

export const otelAccessLogClusterName = (endpoint: string): string => {
  const { host, port } = hostPort(endpoint, OTLP_PORT);
  return `meshaccesslog:opentelemetry:${host}:${port}`;
};

function interpolate(text: string, v: AccessLogValues): string {
  const source = v.sourceIp.includes(':') ? `[${v.sourceIp}]:0` : `${v.sourceIp}:0`;
  return text
    .replaceAll('%KUMA_SOURCE_ADDRESS%', source)
    .replaceAll('%KUMA_SOURCE_ADDRESS_WITHOUT_PORT%', v.sourceIp)
    .replaceAll('%KUMA_SOURCE_SERVICE%', v.sourceService)
    .replaceAll('%KUMA_DESTINATION_SERVICE%', v.destinationService)
    .replaceAll('%KUMA_MESH%', v.mesh)
    .replaceAll('%KUMA_TRAFFIC_DIRECTION%', v.direction)
    .replaceAll('%KUMA_ZONE%', v.zone)
    .replaceAll('%KUMA_WORKLOAD%', '');
}

const defaultFormat = (v: AccessLogValues) => (v.http ? DEFAULT_HTTP_FORMAT : DEFAULT_TCP_FORMAT);
const jsonFields = (json: readonly { key: string; value: string }[], v: AccessLogValues) => Object.fromEntries(json.map((kv) => [kv.key, interpolate(kv.value, v)]));

function fileFormat(format: AccessLogFormat | undefined, v: AccessLogValues): SubstitutionFormatString {
  const omitEmptyValues = format?.omitEmptyValues ?? false;
  if (format?.type === 'Json' && format.json) return { format: { $case: 'jsonFormat', value: jsonFields(format.json, v) }, omitEmptyValues, contentType: '', formatters: [], jsonFormatOptions: undefined };
  const text = `${interpolate(format?.plain ?? defaultFormat(v), v)}\n`;
  return { format: { $case: 'textFormatSource', value: { specifier: { $case: 'inlineString', value: text }, watchedDirectory: undefined } }, omitEmptyValues, contentType: '', formatters: [], jsonFormatOptions: undefined };
}

function tcpFormat(address: string, format: AccessLogFormat | undefined, v: AccessLogValues): SubstitutionFormatString {
  const message = format?.type === 'Json' && format.json ? jsonFields(format.json, v) : `${interpolate(format?.plain ?? defaultFormat(v), v)}\n`;
  return { format: { $case: 'jsonFormat', value: { address, message } }, omitEmptyValues: format?.omitEmptyValues ?? false, contentType: '', formatters: [], jsonFormatOptions: undefined };
}

const str = (value: string): AnyValue => ({ value: { $case: 'stringValue', value } });
const ANY_VALUE_KEYS = new Set(['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue']);

/** The backend's `body` as an OTLP AnyValue (its proto3 JSON form), else as text; placeholders filled in. */
function otelBody(body: unknown, v: AccessLogValues): AnyValue {
  if (body === undefined) return str(interpolate(defaultFormat(v), v));
  if (isRecord(body) && Object.keys(body).length === 1 && ANY_VALUE_KEYS.has(Object.keys(body)[0]!)) {
    return AnyValue.fromJSON(JSON.parse(interpolate(JSON.stringify(body), v)));
  }
  return str(interpolate(typeof body === 'string' ? body : JSON.stringify(body), v));
}

function accessLog(b: AccessLogBackend, v: AccessLogValues): AccessLog | undefined {
  const file = (path: string, logFormat: SubstitutionFormatString) =>
    AccessLog.fromPartial({ name: 'envoy.access_loggers.file', configType: { $case: 'typedConfig', value: packAny(FILE_ACCESS_LOG_TYPE_URL, FileAccessLog, FileAccessLog.fromPartial({ path, accessLogFormat: { $case: 'logFormat', value: logFormat } })) } });
  switch (b.type) {
    case 'File':
      return b.file ? file(b.file.path, fileFormat(b.file.format, v)) : undefined;
    case 'Tcp':
      return b.tcp ? file(v.socketPath, tcpFormat(b.tcp.address, b.tcp.format, v)) : undefined;
    case 'OpenTelemetry': {
      const endpoint = b.openTelemetry?.endpoint;
      // A backendRef (MeshOpenTelemetryBackend) is not resolved by Ursa: without an endpoint nothing is logged.
      if (!endpoint) return undefined;
      const resource = [{ key: 'kuma.mesh', value: str(v.mesh) }, ...(v.zone ? [{ key: 'kuma.zone', value: str(v.zone) }] : [])];
      const config = OpenTelemetryAccessLogConfig.fromPartial({
        commonConfig: { logName: 'MeshAccessLog', transportApiVersion: ApiVersion.V3, grpcService: { targetSpecifier: { $case: 'envoyGrpc', value: { clusterName: otelAccessLogClusterName(endpoint) } } } },
        body: otelBody(b.openTelemetry?.body, v),
        attributes: { values: (b.openTelemetry?.attributes ?? []).map((kv) => ({ key: interpolate(kv.key, v), value: str(interpolate(kv.value, v)) })) },
        resourceAttributes: { values: resource },
      });
      return AccessLog.fromPartial({ name: 'envoy.access_loggers.open_telemetry', configType: { $case: 'typedConfig', value: packAny(OTEL_ACCESS_LOG_TYPE_URL, OpenTelemetryAccessLogConfig, config) } });
    }
    default:
      return undefined;
  }
}

/** The access loggers of a listener, in backend order. */
export function accessLogs(conf: AccessLogConf | undefined, v: AccessLogValues): AccessLog[] {
  return (conf?.backends ?? []).flatMap((b) => accessLog(b, v) ?? []);
}

export function applyHcmAccessLog(hcm: HttpConnectionManager, conf: AccessLogConf | undefined, v: AccessLogValues): HttpConnectionManager {
  const logs = accessLogs(conf, v);
  if (logs.length === 0) return hcm;
  const out = HttpConnectionManager.fromPartial(hcm);
  out.accessLog = [...out.accessLog, ...logs];
  return out;
}

export function applyTcpAccessLog(tcp: TcpProxy, conf: AccessLogConf | undefined, v: AccessLogValues): TcpProxy {
  const logs = accessLogs(conf, v);
  if (logs.length === 0) return tcp;
  const out = TcpProxy.fromPartial(tcp);
  out.accessLog = [...out.accessLog, ...logs];
  return out;
}

/** The collector clusters the OpenTelemetry backends among `confs` need, one per endpoint. */
export function accessLogClusters(confs: readonly (AccessLogConf | undefined)[]): Cluster[] {
  const endpoints = new Set<string>();
  for (const c of confs) for (const b of c?.backends ?? []) if (b.type === 'OpenTelemetry' && b.openTelemetry?.endpoint) endpoints.add(b.openTelemetry.endpoint);
  const byName = new Map<string, Cluster>();
  for (const e of [...endpoints].sort()) {
    const { host, port } = hostPort(e, OTLP_PORT);
    const name = otelAccessLogClusterName(e);
    byName.set(name, collectorCluster(name, host, port, true));
  }
  return [...byName.values()];
}
