/**
 * One golden file per applied policy kind (zone-agent/src/xds/testdata/golden/policies/<Kind>.json): the
 * policies, what the engine merged for a sample dataplane, and the Envoy fragments that come out, as
 * proto3 JSON. Every fragment is first pushed through Envoy's protobuf types (binary and JSON) and must
 * come back unchanged. `UPDATE_GOLDEN=1` rewrites the files.
 */
import { describe, expect, it } from 'vitest';
import { Cluster, Cluster_DiscoveryType } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { HealthStatus } from '@ursa/proto/gen/envoy/config/core/v3/health_check.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Route } from '@ursa/proto/gen/envoy/config/route/v3/route_components.js';
import { RBAC } from '@ursa/proto/gen/envoy/extensions/filters/http/rbac/v3/rbac.js';
import { Router } from '@ursa/proto/gen/envoy/extensions/filters/http/router/v3/router.js';
import { HttpConnectionManager, HttpFilter } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { TcpProxy } from '@ursa/proto/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { asTyped } from '@ursa/core';
import { packAny } from '../hash.js';
import { ROUTER_TYPE_URL } from '../type-urls.js';
import {
  applyHcmTimeouts,
  applyLocality,
  decorateCluster,
  decorateInboundCluster,
  decorateTcpProxy,
  httpRoutes,
  inboundRbacFilters,
  localityPlan,
  matchPolicies,
  routeBackendServices,
  type ClusterNamer,
  type PolicyResource,
} from './index.js';
import { dataplane, expectGolden, policy, roundTrip } from './testing.js';

const ZONE = 'zone-1';
const web = dataplane('web-1', ['web:8080:http']);
const clusterFor: ClusterNamer = (b) => (b.tags ? `${b.service}-${Object.entries(b.tags).map(([k, v]) => `${k}=${v}`).join(',')}` : b.service);

const baseCluster = (service: string) =>
  Cluster.fromPartial({
    name: service,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { serviceName: service, edsConfig: { configSourceSpecifier: { $case: 'ads', value: {} } } },
    connectTimeout: { seconds: 5, nanos: 0 },
  });
const localCluster = () =>
  Cluster.fromPartial({
    name: 'localhost:8080',
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.STATIC },
    connectTimeout: { seconds: 5, nanos: 0 },
  });
const routerFilter = (): HttpFilter => ({ name: 'envoy.filters.http.router', isOptional: false, disabled: false, configType: { $case: 'typedConfig', value: packAny(ROUTER_TYPE_URL, Router, Router.fromPartial({})) } });
const inboundHcm = () =>
  HttpConnectionManager.fromPartial({
    statPrefix: 'inbound_8080',
    routeSpecifier: {
      $case: 'routeConfig',
      value: { name: 'inbound:web', virtualHosts: [{ name: 'web', domains: ['*'], routes: [{ match: { pathSpecifier: { $case: 'prefix', value: '/' } }, action: { $case: 'route', value: { clusterSpecifier: { $case: 'cluster', value: 'localhost:8080' } } } }] }] },
    },
    httpFilters: [routerFilter()],
  });
const claOf = (service: string) =>
  ClusterLoadAssignment.fromPartial({
    clusterName: service,
    endpoints: [
      { locality: { zone: 'zone-1' }, priority: 0, loadBalancingWeight: 1, lbEndpoints: [{ hostIdentifier: { $case: 'endpoint', value: { address: { address: { $case: 'socketAddress', value: { address: '10.0.0.9', portSpecifier: { $case: 'portValue', value: 8080 } } } } } }, healthStatus: HealthStatus.HEALTHY }] },
      { locality: { zone: 'zone-2' }, priority: 0, loadBalancingWeight: 2, lbEndpoints: [{ hostIdentifier: { $case: 'endpoint', value: { address: { address: { $case: 'socketAddress', value: { address: '192.168.0.2', portSpecifier: { $case: 'portValue', value: 10001 } } } } } }, healthStatus: HealthStatus.HEALTHY }] },
      { locality: { zone: 'zone-3' }, priority: 0, loadBalancingWeight: 3, lbEndpoints: [{ hostIdentifier: { $case: 'endpoint', value: { address: { address: { $case: 'socketAddress', value: { address: '192.168.0.3', portSpecifier: { $case: 'portValue', value: 10001 } } } } } }, healthStatus: HealthStatus.HEALTHY }] },
    ],
  });

/** A filter list as JSON, with each RBAC typed config decoded (and round-tripped) for reading. */
function filtersJson(filters: HttpFilter[]): unknown[] {
  return filters.map((f) => {
    roundTrip(HttpFilter, f);
    const any = f.configType?.$case === 'typedConfig' ? f.configType.value : undefined;
    const config = any && any.typeUrl.endsWith('rbac.v3.RBAC') ? roundTrip(RBAC, RBAC.decode(any.value)) : any?.typeUrl;
    return { name: f.name, config };
  });
}

function envoyFor(policies: PolicyResource[], opts: { dp?: typeof web; destination?: string; protocol?: string; mtls?: boolean } = {}) {
  const dp = opts.dp ?? web;
  const destination = opts.destination ?? 'backend';
  const matched = matchPolicies({ mesh: 'default', zone: ZONE, dataplane: dp, policies });
  const out = matched.outbound(destination);
  const inbound = matched.inbound(8080);
  const plan = localityPlan(out, ZONE);
  return {
    policies: policies.map((p) => ({ kind: p.kind, name: p.name, labels: p.labels, spec: p.spec })),
    matched: matched.inspect([destination]),
    envoy: {
      outboundCluster: roundTrip(Cluster, decorateCluster(baseCluster(destination), out, { protocol: opts.protocol ?? 'http' })),
      outboundRoutes: httpRoutes(out, clusterFor, { protocol: opts.protocol }).map((r) => roundTrip(Route, r)),
      routeBackendServices: routeBackendServices(out),
      outboundTcpProxy: roundTrip(TcpProxy, decorateTcpProxy(TcpProxy.fromPartial({ statPrefix: destination }), out, clusterFor)),
      outboundHcmTimeouts: roundTrip(HttpConnectionManager, applyHcmTimeouts(HttpConnectionManager.fromPartial({ statPrefix: destination }), out.timeout)),
      locality: { localityAware: plan.localityAware, loadAssignment: roundTrip(ClusterLoadAssignment, applyLocality(claOf(destination), plan)) },
      inboundHcm: roundTrip(HttpConnectionManager, applyHcmTimeouts(inboundHcm(), inbound.timeout)),
      inboundCluster: roundTrip(Cluster, decorateInboundCluster(localCluster(), inbound)),
      inboundRbacFilters: filtersJson(inboundRbacFilters(inbound, { mesh: 'default', mtls: opts.mtls ?? true })),
    },
  };
}

const to = (name: string, weight?: number) => ({ kind: 'MeshService', name, ...(weight === undefined ? {} : { weight }) });

const SCENARIOS: Record<string, () => ReturnType<typeof envoyFor>> = {
  MeshTrafficPermission: () =>
    envoyFor([
      policy('MeshTrafficPermission', 'allow-mesh', { from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] }),
      policy('MeshTrafficPermission', 'web-from', {
        targetRef: { kind: 'MeshService', name: 'web' },
        from: [
          { targetRef: { kind: 'MeshService', name: 'untrusted' }, default: { action: 'Deny' } },
          { targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'batch', env: 'prod' } }, default: { action: 'AllowWithShadowDeny' } },
        ],
      }),
    ]),
  MeshTimeout: () =>
    envoyFor([
      policy('MeshTimeout', 'mesh-timeout-all-default', {
        targetRef: { kind: 'Mesh' },
        from: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '5s', idleTimeout: '1h', http: { requestTimeout: '15s', streamIdleTimeout: '30m' } } }],
        to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '5s', idleTimeout: '1h', http: { requestTimeout: '15s', streamIdleTimeout: '30m' } } }],
      }),
      policy('MeshTimeout', 'web-to-backend', {
        targetRef: { kind: 'MeshService', name: 'web' },
        to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: { connectionTimeout: '1500ms', http: { requestTimeout: '3s', maxStreamDuration: '10m', maxConnectionDuration: '1h', requestHeadersTimeout: '500ms' } } }],
      }),
    ]),
  MeshRetry: () => {
    const result = envoyFor(
      [
        policy('MeshRetry', 'retry-all', {
          to: [
            {
              targetRef: { kind: 'Mesh' },
              default: {
                tcp: { maxConnectAttempt: 3 },
                http: { numRetries: 4, perTryTimeout: '2s', backOff: { baseInterval: '20ms', maxInterval: '1s' }, retryOn: ['5xx', 'ConnectFailure', '429', 'HttpMethodGet'] },
                grpc: { numRetries: 2, retryOn: ['Unavailable', 'DeadlineExceeded'] },
              },
            },
          ],
        }),
      ],
    );
    // The same destination spoken to over gRPC takes the policy's `grpc` section.
    const out = matchPolicies({ mesh: 'default', zone: ZONE, dataplane: web, policies: result.policies.map((p) => asTyped(p.kind, { ...p, mesh: 'default' })) }).outbound('backend');
    return { ...result, envoy: { ...result.envoy, outboundRoutesGrpc: httpRoutes(out, clusterFor, { protocol: 'grpc' }).map((r) => roundTrip(Route, r)) } };
  },
  MeshCircuitBreaker: () =>
    envoyFor([
      policy('MeshCircuitBreaker', 'cb-all', {
        to: [
          {
            targetRef: { kind: 'Mesh' },
            default: {
              connectionLimits: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
              outlierDetection: { disabled: false, interval: '5s', baseEjectionTime: '30s', maxEjectionPercent: 20, splitExternalAndLocalErrors: true, detectors: { totalFailures: { consecutive: 5 }, successRate: { minimumHosts: 5, requestVolume: 10, standardDeviationFactor: '1.9' } }, healthyPanicThreshold: 50 },
            },
          },
        ],
      }),
      policy('MeshCircuitBreaker', 'cb-backend', { to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: { connectionLimits: { maxConnections: 2 } } }] }),
      policy('MeshCircuitBreaker', 'cb-inbound', { targetRef: { kind: 'MeshService', name: 'web' }, rules: [{ default: { connectionLimits: { maxPendingRequests: 64 } } }] }),
    ]),
  MeshHealthCheck: () =>
    envoyFor([
      policy('MeshHealthCheck', 'hc-backend', {
        to: [
          {
            targetRef: { kind: 'MeshService', name: 'backend' },
            default: { interval: '10s', timeout: '2s', unhealthyThreshold: 3, healthyThreshold: 1, healthyPanicThreshold: 60, http: { path: '/health', expectedStatuses: [200, 204] }, tcp: { send: 'ping', receive: ['pong'] } },
          },
        ],
      }),
    ]),
  MeshHTTPRoute: () =>
    envoyFor([
      policy('MeshHTTPRoute', 'split', {
        targetRef: { kind: 'MeshService', name: 'web' },
        to: [
          {
            targetRef: { kind: 'MeshService', name: 'backend' },
            rules: [
              { matches: [{ path: { type: 'PathPrefix', value: '/' } }], default: { backendRefs: [to('backend-v1', 80), to('backend-v2', 20)] } },
              {
                matches: [{ path: { type: 'Exact', value: '/login' }, method: 'POST' }],
                default: { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-route', value: 'login' }], remove: ['x-debug'] } }], backendRefs: [{ kind: 'MeshServiceSubset', name: 'backend', tags: { version: 'v3' } }] },
              },
              { matches: [{ path: { type: 'PathPrefix', value: '/old' } }], default: { filters: [{ type: 'RequestRedirect', requestRedirect: { statusCode: 301, path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } } }] } },
              {
                matches: [{ path: { type: 'PathPrefix', value: '/v2' }, headers: [{ type: 'Exact', name: 'x-canary', value: 'yes' }], queryParams: [{ type: 'Exact', name: 'q', value: '1' }] }],
                default: { filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }, { type: 'RequestMirror', requestMirror: { backendRef: to('shadow'), percentage: 10 } }] },
              },
            ],
          },
        ],
      }),
    ]),
  MeshTCPRoute: () =>
    envoyFor(
      [
        policy('MeshTCPRoute', 'tcp-split', { to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, rules: [{ default: { backendRefs: [to('backend-v1', 90), to('backend-v2', 10)] } }] }] }),
      ],
      { protocol: 'tcp' },
    ),
  MeshLoadBalancingStrategy: () =>
    envoyFor([
      policy('MeshLoadBalancingStrategy', 'lb', {
        to: [
          {
            targetRef: { kind: 'MeshService', name: 'backend' },
            default: {
              loadBalancer: { type: 'RingHash', ringHash: { hashFunction: 'MurmurHash2', minRingSize: 64, maxRingSize: 1024, hashPolicies: [{ type: 'Header', header: { name: 'x-user' }, terminal: true }] } },
              localityAwareness: { crossZone: { failover: [{ to: { type: 'Only', zones: ['zone-3'] } }, { to: { type: 'Any' } }], failoverThreshold: { percentage: 70 } } },
            },
          },
        ],
      }),
    ]),
};

describe('policy goldens', () => {
  for (const [kind, scenario] of Object.entries(SCENARIOS)) {
    it(`${kind}: Envoy fragments for a sample dataplane`, () => {
      const result = scenario();
      // The kind under test must have matched and changed something.
      expect(result.policies.every((p) => p.kind === kind)).toBe(true);
      expect(result.matched.policies.length).toBe(result.policies.length);
      expectGolden(kind, result);
    });
  }

  it('with no policies the fragments change nothing and an mTLS inbound denies everyone', () => {
    const result = envoyFor([]);
    expect(result.envoy.outboundCluster).toEqual(Cluster.toJSON(baseCluster('backend')));
    expect(result.envoy.outboundRoutes).toEqual([{ match: { prefix: '/' }, route: { cluster: 'backend' } }]);
    expect(result.envoy.locality.localityAware).toBe(false);
    expect(result.envoy.inboundRbacFilters).toEqual([{ name: 'envoy.filters.http.rbac', config: { rules: {} } }]);
    expect(envoyFor([], { mtls: false }).envoy.inboundRbacFilters).toEqual([]);
  });
});
