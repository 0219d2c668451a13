/**
 * Goldens for MeshFaultInjection, MeshRateLimit, MeshAccessLog and MeshTrace (testdata/golden/policies/
 * <Kind>.json), built from the cases of Kuma v2.14.3's plugin tests (pkg/plugins/policies/<kind>/plugin/
 * v1alpha1/testdata): the policies, what the engine merged for a sample dataplane, and the Envoy fragments,
 * every message (and every `Any` inside, decoded by its type URL) pushed through Envoy's protobuf types in
 * binary and JSON and required to come back unchanged. `UPDATE_GOLDEN=1` rewrites the files.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { DatadogConfig } from '@ursa/proto/gen/envoy/config/trace/v3/datadog.js';
import { OpenTelemetryConfig } from '@ursa/proto/gen/envoy/config/trace/v3/opentelemetry.js';
import { ZipkinConfig } from '@ursa/proto/gen/envoy/config/trace/v3/zipkin.js';
import { Filter } from '@ursa/proto/gen/envoy/config/listener/v3/listener_components.js';
import { FileAccessLog } from '@ursa/proto/gen/envoy/extensions/access_loggers/file/v3/file.js';
import { OpenTelemetryAccessLogConfig } from '@ursa/proto/gen/envoy/extensions/access_loggers/open_telemetry/v3/logs_service.js';
import { HTTPFault } from '@ursa/proto/gen/envoy/extensions/filters/http/fault/v3/fault.js';
import { LocalRateLimit as HttpLocalRateLimit } from '@ursa/proto/gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js';
import { RBAC } from '@ursa/proto/gen/envoy/extensions/filters/http/rbac/v3/rbac.js';
import { Router } from '@ursa/proto/gen/envoy/extensions/filters/http/router/v3/router.js';
import { HttpConnectionManager, HttpFilter } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { LocalRateLimit as NetworkLocalRateLimit } from '@ursa/proto/gen/envoy/extensions/filters/network/local_ratelimit/v3/local_rate_limit.js';
import { TcpProxy } from '@ursa/proto/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { HttpProtocolOptions } from '@ursa/proto/gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js';
import { isRecord } from '@ursa/proto';
import { packAny } from '../hash.js';
import * as URLS from '../type-urls.js';
import {
  accessLogClusters,
  accessLogSocketPath,
  applyHcmAccessLog,
  applyHcmTracing,
  applyRateLimitRoutes,
  applyTcpAccessLog,
  inboundFaultFilters,
  inboundRateLimitHttpFilters,
  inboundRateLimitNetworkFilters,
  matchPolicies,
  traceClusters,
  type AccessLogConf,
  type AccessLogValues,
  type PolicyResource,
} from './index.js';
import { dataplane, expectGolden, policy, roundTrip } from './testing.js';

const ZONE = 'zone-1';
const web = dataplane('web-1', ['web:8080:http', 'db:9090']);

interface Codec<T = unknown> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
  fromPartial(m: never): T;
  toJSON(m: T): unknown;
  fromJSON(j: unknown): T;
}
const CODECS = new Map<string, Codec>(
  (
    [
      [URLS.FAULT_TYPE_URL, HTTPFault],
      [URLS.HTTP_LOCAL_RATE_LIMIT_TYPE_URL, HttpLocalRateLimit],
      [URLS.NETWORK_LOCAL_RATE_LIMIT_TYPE_URL, NetworkLocalRateLimit],
      [URLS.FILE_ACCESS_LOG_TYPE_URL, FileAccessLog],
      [URLS.OTEL_ACCESS_LOG_TYPE_URL, OpenTelemetryAccessLogConfig],
      [URLS.ZIPKIN_TYPE_URL, ZipkinConfig],
      [URLS.DATADOG_TYPE_URL, DatadogConfig],
      [URLS.OTEL_TRACE_TYPE_URL, OpenTelemetryConfig],
      [URLS.RBAC_TYPE_URL, RBAC],
      [URLS.ROUTER_TYPE_URL, Router],
      [URLS.HTTP_PROTOCOL_OPTIONS_TYPE_URL, HttpProtocolOptions],
    ] as [string, unknown][]
  ).map(([u, c]) => [u, c as Codec]),
);

/** A message as proto3 JSON with every nested `Any` decoded by its type URL (each round-tripped too); an unknown type fails. */
function decoded<T>(codec: Codec<T>, message: T): unknown {
  const expand = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(expand);
    if (!isRecord(v)) return v;
    if (typeof v.typeUrl === 'string' && Object.keys(v).every((k) => k === 'typeUrl' || k === 'value')) {
      const inner = CODECS.get(v.typeUrl);
      if (!inner) throw new Error(`no codec for ${v.typeUrl}`);
      return { '@type': v.typeUrl, ...(expand(roundTrip(inner, inner.decode(Buffer.from(String(v.value ?? ''), 'base64')))) as object) };
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expand(x)]));
  };
  return expand(roundTrip(codec as never, message));
}

const inboundHcm = () =>
  HttpConnectionManager.fromPartial({
    statPrefix: 'inbound_10.0.0.1_8080',
    routeSpecifier: {
      $case: 'routeConfig',
      value: { name: 'inbound:web', virtualHosts: [{ name: 'web', domains: ['*'], routes: [{ match: { pathSpecifier: { $case: 'prefix', value: '/' } }, action: { $case: 'route', value: { clusterSpecifier: { $case: 'cluster', value: 'localhost:8080' } } } }] }] },
    },
    httpFilters: [{ name: 'envoy.filters.http.router', isOptional: false, disabled: false, configType: { $case: 'typedConfig', value: packAny(URLS.ROUTER_TYPE_URL, Router, Router.fromPartial({})) } }],
  });
const outboundHcm = () => HttpConnectionManager.fromPartial({ statPrefix: 'outbound_127.0.0.1_10001' });
const tcpProxy = (cluster: string) => TcpProxy.fromPartial({ statPrefix: cluster, clusterSpecifier: { $case: 'cluster', value: cluster } });
const values = (http: boolean, direction: 'INBOUND' | 'OUTBOUND', destination: string): AccessLogValues => ({
  http,
  direction,
  mesh: 'default',
  zone: ZONE,
  sourceIp: '10.0.0.1',
  sourceService: direction === 'INBOUND' ? 'unknown' : 'web',
  destinationService: destination,
  socketPath: accessLogSocketPath('web-1', 'default'),
});

function base(policies: PolicyResource[]) {
  const matched = matchPolicies({ mesh: 'default', zone: ZONE, dataplane: web, policies });
  return { matched, head: { policies: policies.map((p) => ({ kind: p.kind, name: p.name, spec: p.spec })), matched: matched.inspect(['backend', 'db-out']) } };
}

const SCENARIOS: Record<string, () => { policies: unknown[]; matched: { policies: unknown[] }; envoy: Record<string, unknown> }> = {
  // Kuma basic_listener_1: two faults for all clients, one filter each, in order, before the router.
  MeshFaultInjection: () => {
    const { matched, head } = base([
      policy('MeshFaultInjection', 'faults', {
        targetRef: { kind: 'MeshService', name: 'web' },
        from: [
          {
            targetRef: { kind: 'Mesh' },
            default: {
              http: [
                { abort: { httpStatus: 444, percentage: '12' }, delay: { value: '55s', percentage: '55' }, responseBandwidth: { limit: '111Mbps', percentage: '62.9' } },
                { abort: { httpStatus: 111, percentage: 11 }, delay: { value: '22s', percentage: 22 }, responseBandwidth: { limit: '333Mbps', percentage: '33.3' } },
              ],
            },
          },
        ],
      }),
    ]);
    const inbound = matched.inbound(8080);
    return { ...head, envoy: { inboundHttpFilters: inboundFaultFilters(inbound).map((f) => decoded(HttpFilter, f)), tcpInboundHttpFilters: inboundFaultFilters(matched.inbound(9090)).length } };
  },
  // Kuma basic_listener_1 / tcp: an HTTP request rate with its status and headers, a TCP connection rate.
  MeshRateLimit: () => {
    const { matched, head } = base([
      policy('MeshRateLimit', 'limits', {
        targetRef: { kind: 'Dataplane', name: 'web-1' },
        rules: [
          {
            default: {
              local: {
                http: { requestRate: { num: 100, interval: '10s' }, onRateLimit: { status: 429, headers: { add: [{ name: 'x-kuma-rate-limit-header', value: 'test-value' }], set: [{ name: 'x-kuma-rate-limit-header-set', value: 'test-value' }] } } },
                tcp: { connectionRate: { num: 100, interval: '10s' } },
              },
            },
          },
        ],
      }),
    ]);
    const http = matched.inbound(8080);
    const tcp = matched.inbound(9090);
    return {
      ...head,
      envoy: {
        inboundHttpFilters: inboundRateLimitHttpFilters(http).map((f) => decoded(HttpFilter, f)),
        inboundHcm: decoded(HttpConnectionManager, applyRateLimitRoutes(inboundHcm(), http)),
        inboundTcpFilters: inboundRateLimitNetworkFilters(tcp).map((f) => decoded(Filter, f)),
      },
    };
  },
  // Kuma basic_outbound / outbound_{file,tcp,otel}_backend_*: inbound file log, outbound TCP, JSON file and OTLP.
  MeshAccessLog: () => {
    const { matched, head } = base([
      policy('MeshAccessLog', 'logs', {
        targetRef: { kind: 'Mesh' },
        from: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'File', file: { path: '/tmp/log' } }] } }],
        to: [
          {
            targetRef: { kind: 'Mesh' },
            default: {
              backends: [
                { type: 'Tcp', tcp: { address: 'logging.backend', format: { type: 'Plain', plain: 'custom format [%START_TIME%] %RESPONSE_FLAGS%' } } },
                { type: 'File', file: { path: '/tmp/out.log', format: { type: 'Json', json: [{ key: 'mesh', value: '%KUMA_MESH%' }, { key: 'start', value: '%START_TIME%' }] } } },
                { type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel-collector', attributes: [{ key: 'mesh', value: '%KUMA_MESH%' }] } },
              ],
            },
          },
        ],
      }),
    ]);
    const inbound = matched.inbound(8080);
    const out = matched.outbound('backend');
    return {
      ...head,
      envoy: {
        inboundHcm: decoded(HttpConnectionManager, applyHcmAccessLog(inboundHcm(), inbound.accessLog, values(true, 'INBOUND', 'web'))),
        inboundTcpProxy: decoded(TcpProxy, applyTcpAccessLog(tcpProxy('localhost:9090'), matched.inbound(9090).accessLog, values(false, 'INBOUND', 'db'))),
        outboundHcm: decoded(HttpConnectionManager, applyHcmAccessLog(outboundHcm(), out.accessLog, values(true, 'OUTBOUND', 'backend'))),
        outboundTcpProxy: decoded(TcpProxy, applyTcpAccessLog(tcpProxy('backend'), out.accessLog, values(false, 'OUTBOUND', 'backend'))),
        clusters: accessLogClusters(matched.defaults('MeshAccessLog') as AccessLogConf[]).map((c) => decoded(Cluster, c)),
      },
    };
  },
  // Kuma inbound-outbound-{zipkin,datadog,otel}: sampling, custom tags, provider and collector cluster.
  MeshTrace: () => {
    const conf = (backend: Record<string, unknown>) => ({
      targetRef: { kind: 'Mesh' },
      default: {
        backends: [backend],
        sampling: { overall: 10, client: 20, random: 50 },
        tags: [{ name: 'app', literal: 'backend' }, { name: 'app_code', header: { name: 'app_code' } }, { name: 'client_id', header: { name: 'client_id', default: 'none' } }],
      },
    });
    const zipkin = { type: 'Zipkin', zipkin: { url: 'http://jaeger-collector.mesh-observability:9411/api/v2/spans', apiVersion: 'httpProto', traceId128bit: true, sharedSpanContext: true } };
    const { matched, head } = base([policy('MeshTrace', 'trace', conf(zipkin))]);
    const variant = (backend: Record<string, unknown>) => {
      const m = matchPolicies({ mesh: 'default', zone: ZONE, dataplane: web, policies: [policy('MeshTrace', 'trace', conf(backend))] });
      const t = m.proxyWide().trace;
      return {
        inboundHcm: decoded(HttpConnectionManager, applyHcmTracing(outboundHcm(), t, { direction: 'INBOUND', service: 'web', mesh: 'default', zone: ZONE })),
        outboundHcm: decoded(HttpConnectionManager, applyHcmTracing(outboundHcm(), t, { direction: 'OUTBOUND', service: 'web', destination: 'backend', mesh: 'default', zone: ZONE })),
        clusters: traceClusters(t).map((c) => decoded(Cluster, c)),
      };
    };
    return {
      ...head,
      envoy: {
        zipkin: variant(zipkin),
        datadogSplitService: variant({ type: 'Datadog', datadog: { url: 'http://ingest.datadog.eu:8126', splitService: true } }),
        openTelemetry: variant({ type: 'OpenTelemetry', openTelemetry: { endpoint: 'jaeger-collector.mesh-observability:4317' } }),
      },
    };
  },
};

describe('policy goldens: fault injection, rate limit, access log, trace', () => {
  for (const [kind, scenario] of Object.entries(SCENARIOS)) {
    it(`${kind}: Envoy fragments for a sample dataplane`, () => {
      const result = scenario();
      expect(result.matched.policies.length).toBe(result.policies.length);
      expectGolden(kind, result);
    });
  }

  it('fault injection: Kuma\'s percentage denominators (whole, two decimals, finer) and bandwidth units', () => {
    const { matched } = base([
      policy('MeshFaultInjection', 'f', { targetRef: { kind: 'Dataplane', name: 'web-1' }, from: [{ targetRef: { kind: 'Mesh' }, default: { http: [{ abort: { httpStatus: 500, percentage: '12.5' }, responseBandwidth: { limit: '2Gbps', percentage: '0.001' } }] } }] }),
    ]);
    const [f] = inboundFaultFilters(matched.inbound(8080));
    if (f?.configType?.$case !== 'typedConfig') throw new Error('no typed config');
    const fault = HTTPFault.decode(f.configType.value.value);
    expect(fault.abort?.percentage).toEqual({ numerator: 1250, denominator: 1 });
    expect(fault.responseRateLimit?.percentage).toEqual({ numerator: 10, denominator: 2 });
    expect(fault.responseRateLimit?.limitType).toEqual({ $case: 'fixedLimit', value: { limitKbps: 2_000_000 } });
  });

  it('a disabled limit and a trace without backends change nothing', () => {
    const { matched } = base([
      policy('MeshRateLimit', 'off', { targetRef: { kind: 'Dataplane', name: 'web-1' }, rules: [{ default: { local: { http: { disabled: true }, tcp: { disabled: true } } } }] }),
      policy('MeshTrace', 'none', { default: { backends: [] } }),
    ]);
    expect(inboundRateLimitHttpFilters(matched.inbound(8080))).toEqual([]);
    expect(inboundRateLimitNetworkFilters(matched.inbound(9090))).toEqual([]);
    expect(applyHcmTracing(outboundHcm(), matched.proxyWide().trace, { direction: 'INBOUND', service: 'web', mesh: 'default', zone: ZONE })).toEqual(outboundHcm());
    expect(traceClusters(matched.proxyWide().trace)).toEqual([]);
  });

  it('the more precedent MeshTrace wins (a Dataplane-targeted one over a Mesh-wide one)', () => {
    const { matched } = base([
      policy('MeshTrace', 'mesh-wide', { targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'Zipkin', zipkin: { url: 'http://zipkin:9411/api/v2/spans' } }], sampling: { overall: 5 } } }),
      policy('MeshTrace', 'this-one', { targetRef: { kind: 'Dataplane', name: 'web-1' }, default: { backends: [{ type: 'Datadog', datadog: { url: 'http://dd:8126' } }] } }),
    ]);
    expect(matched.proxyWide().trace).toEqual({ backends: [{ type: 'Datadog', datadog: { url: 'http://dd:8126' } }], sampling: { overall: 5 } });
    expect(matched.inspect().proxy?.policies.MeshTrace?.matched.map((p) => p.name)).toEqual(['mesh-wide', 'this-one']);
  });
});
