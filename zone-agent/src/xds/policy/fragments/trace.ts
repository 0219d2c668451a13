/**
 * MeshTrace (pure), Kuma `meshtrace/plugin/xds`: the proxy-wide conf as `tracing` on every
 * HttpConnectionManager of the sidecar (inbound and outbound), with its one backend as the provider:
 * - Zipkin: `envoy.tracers.zipkin` to the URL's path on cluster `meshtrace:zipkin` (the URL's host and
 *   port), API version (`httpJson` default), 128-bit trace ids and shared span context as set;
 * - Datadog: `envoy.tracers.datadog` on cluster `meshtrace:datadog`, service name `<service>` or, with
 *   `splitService`, `<service>_INBOUND` / `<service>_OUTBOUND_<destination>`;
 * - OpenTelemetry: `envoy.tracers.opentelemetry` over gRPC on cluster `meshtrace:opentelemetry` (HTTP/2).
 * Sampling percentages go as given; `tags` become custom tags (literal or request header with default),
 * followed by `kuma.mesh` and `kuma.zone` literals unless a tag of that name is already there.
 */
import type { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import type { Tracing_Http } from '@ursa/proto/gen/envoy/config/trace/v3/http_tracer.js';
import { DatadogConfig } from '@ursa/proto/gen/envoy/config/trace/v3/datadog.js';
import { OpenTelemetryConfig } from '@ursa/proto/gen/envoy/config/trace/v3/opentelemetry.js';
import { ZipkinConfig, ZipkinConfig_CollectorEndpointVersion } from '@ursa/proto/gen/envoy/config/trace/v3/zipkin.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import type { CustomTag } from '@ursa/proto/gen/envoy/type/tracing/v3/custom_tag.js';
import { packAny } from '../../hash.js';
import { DATADOG_TYPE_URL, OTEL_TRACE_TYPE_URL, ZIPKIN_TYPE_URL } from '../../type-urls.js';
import type { TraceBackend, TraceConf } from '../types.js';
import { collectorCluster } from './collector.js';
import { decimal, hostPort } from './convert.js';

export interface TraceValues {
  readonly direction: 'INBOUND' | 'OUTBOUND';
  /** The inbound's service, or (outbound) the proxy's own service. */
  readonly service: string;
  /** Outbound only: the destination service. */
  readonly destination?: string;
  readonly mesh: string;
  readonly zone: string;
}

const OTLP_PORT = 4317;
const backendOf = (conf: TraceConf | undefined): TraceBackend | undefined => conf?.backends?.[0];

function urlParts(url: string): { host: string; port: number; path: string } {
  const https = /^https:/i.test(url);
  const { host, port } = hostPort(url, https ? 443 : 80);
  const path = url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '').replace(/^[^/?#]*/, '').replace(/[?#].*$/, '');
  return { host, port, path };
}

const literal = (tag: string, value: string): CustomTag => ({ tag, type: { $case: 'literal', value: { value } } });

function provider(b: TraceBackend, v: TraceValues): Tracing_Http | undefined {
  if (b.zipkin) {
    const u = urlParts(b.zipkin.url);
    const authority = b.zipkin.url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '').replace(/[/?#].*$/, '');
    const config = ZipkinConfig.fromPartial({
      collectorCluster: 'meshtrace:zipkin',
      collectorEndpoint: u.path,
      traceId128bit: b.zipkin.traceId128bit ?? false,
      collectorEndpointVersion: b.zipkin.apiVersion === 'httpProto' ? ZipkinConfig_CollectorEndpointVersion.HTTP_PROTO : ZipkinConfig_CollectorEndpointVersion.HTTP_JSON,
      sharedSpanContext: b.zipkin.sharedSpanContext ?? false,
      collectorHostname: authority,
    });
    return { name: 'envoy.tracers.zipkin', configType: { $case: 'typedConfig', value: packAny(ZIPKIN_TYPE_URL, ZipkinConfig, config) } };
  }
  if (b.datadog) {
    const serviceName = !b.datadog.splitService ? v.service : v.direction === 'INBOUND' ? `${v.service}_INBOUND` : `${v.service}_OUTBOUND_${v.destination ?? ''}`;
    const config = DatadogConfig.fromPartial({ collectorCluster: 'meshtrace:datadog', serviceName });
    return { name: 'envoy.tracers.datadog', configType: { $case: 'typedConfig', value: packAny(DATADOG_TYPE_URL, DatadogConfig, config) } };
  }
  if (b.openTelemetry?.endpoint) {
    const config = OpenTelemetryConfig.fromPartial({ serviceName: v.service, grpcService: { targetSpecifier: { $case: 'envoyGrpc', value: { clusterName: 'meshtrace:opentelemetry' } } } });
    return { name: 'envoy.tracers.opentelemetry', configType: { $case: 'typedConfig', value: packAny(OTEL_TRACE_TYPE_URL, OpenTelemetryConfig, config) } };
  }
  return undefined;
}

/** `tracing` on an HCM; unchanged when no MeshTrace with a backend applies. */
export function applyHcmTracing(hcm: HttpConnectionManager, conf: TraceConf | undefined, v: TraceValues): HttpConnectionManager {
  const b = backendOf(conf);
  const p = b && provider(b, v);
  if (!p) return hcm;
  const pct = (x: number | string | undefined) => (x === undefined ? undefined : { value: decimal(x) ?? 0 });
  const tags: CustomTag[] = (conf?.tags ?? []).map((t) =>
    t.header ? { tag: t.name, type: { $case: 'requestHeader', value: { name: t.header.name, defaultValue: t.header.default ?? '' } } } : literal(t.name, t.literal ?? ''),
  );
  for (const [key, value] of [['kuma.mesh', v.mesh], ['kuma.zone', v.zone]] as const) if (value && !tags.some((t) => t.tag === key)) tags.push(literal(key, value));
  const out = HttpConnectionManager.fromPartial(hcm);
  out.tracing = {
    clientSampling: pct(conf?.sampling?.client),
    randomSampling: pct(conf?.sampling?.random),
    overallSampling: pct(conf?.sampling?.overall),
    verbose: false,
    maxPathTagLength: undefined,
    customTags: tags,
    provider: p,
  };
  return out;
}

/** The collector cluster of the conf's backend (none without one). */
export function traceClusters(conf: TraceConf | undefined): Cluster[] {
  const b = backendOf(conf);
  if (b?.zipkin) {
    const u = urlParts(b.zipkin.url);
    return [collectorCluster('meshtrace:zipkin', u.host, u.port, false)];
  }
  if (b?.datadog) {
    const u = urlParts(b.datadog.url);
    return [collectorCluster('meshtrace:datadog', u.host, u.port, false)];
  }
  if (b?.openTelemetry?.endpoint) {
    const { host, port } = hostPort(b.openTelemetry.endpoint, OTLP_PORT);
    return [collectorCluster('meshtrace:opentelemetry', host, port, true)];
  }
  return [];
}
