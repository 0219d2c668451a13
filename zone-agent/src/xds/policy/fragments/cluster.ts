/**
 * Outbound Cluster decoration from merged policies (pure): MeshTimeout (connect timeout, upstream HTTP
 * idle/connection/stream limits), MeshCircuitBreaker (thresholds and outlier detection, Kuma
 * `meshcircuitbreaker/plugin/xds/configurer.go`), MeshHealthCheck (active health checks, Kuma
 * `meshhealthcheck/plugin/xds/configurer.go`), MeshLoadBalancingStrategy (LB policy and its config).
 */
import {
  Cluster,
  Cluster_CommonLbConfig,
  Cluster_CommonLbConfig_ZoneAwareLbConfig,
  Cluster_LbPolicy,
  Cluster_RingHashLbConfig_HashFunction,
} from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { RoutingPriority } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { HttpProtocolOptions } from '@ursa/proto/gen/envoy/config/core/v3/protocol.js';
import {
  HealthCheck,
  HealthCheck_GrpcHealthCheck,
  HealthCheck_HttpHealthCheck,
  HealthCheck_TcpHealthCheck,
} from '@ursa/proto/gen/envoy/config/core/v3/health_check.js';
import { OutlierDetection } from '@ursa/proto/gen/envoy/config/cluster/v3/outlier_detection.js';
import { CodecClientType } from '@ursa/proto/gen/envoy/type/v3/http.js';
import type { CircuitBreakerConf, HealthCheckConf, InboundPolicies, LoadBalancingConf, OutboundPolicies, TimeoutConf } from '../types.js';
import { decimal, defined, duration } from './convert.js';

export interface ClusterOptions {
  /** The destination's `kuma.io/protocol` (tcp, http, http2, grpc); decides the health checker. Default tcp. */
  readonly protocol?: string;
}

/** A new Cluster: `cluster` with the destination's policies applied. The input is not modified. */
export function decorateCluster(cluster: Cluster, out: OutboundPolicies, opts: ClusterOptions = {}): Cluster {
  const c = Cluster.fromPartial(cluster);
  if (out.timeout) applyTimeout(c, out.timeout);
  if (out.circuitBreaker) applyCircuitBreaker(c, out.circuitBreaker);
  if (out.healthCheck) applyHealthCheck(c, out.healthCheck, opts.protocol ?? 'tcp');
  if (out.loadBalancing) applyLoadBalancer(c, out.loadBalancing);
  return c;
}

/**
 * A new local (inbound) Cluster with the inbound's MeshTimeout (connect timeout, upstream HTTP limits) and
 * MeshCircuitBreaker (`from` / `rules` aimed at all clients) applied, as Kuma does for the application cluster.
 */
export function decorateInboundCluster(cluster: Cluster, inbound: InboundPolicies): Cluster {
  const c = Cluster.fromPartial(cluster);
  if (inbound.timeout) applyTimeout(c, inbound.timeout);
  if (inbound.circuitBreaker) applyCircuitBreaker(c, inbound.circuitBreaker);
  return c;
}

function applyTimeout(c: Cluster, t: TimeoutConf): void {
  c.connectTimeout = duration(t.connectionTimeout) ?? c.connectTimeout;
  const http = defined({
    idleTimeout: duration(t.idleTimeout),
    maxConnectionDuration: duration(t.http?.maxConnectionDuration),
    maxStreamDuration: duration(t.http?.maxStreamDuration),
  });
  if (Object.keys(http).length > 0) {
    c.commonHttpProtocolOptions = HttpProtocolOptions.fromPartial({ ...c.commonHttpProtocolOptions, ...http });
  }
}

function applyCircuitBreaker(c: Cluster, cb: CircuitBreakerConf): void {
  const limits = cb.connectionLimits ?? {};
  const thresholds = c.circuitBreakers?.thresholds.filter((t) => t.priority !== RoutingPriority.DEFAULT) ?? [];
  const current = c.circuitBreakers?.thresholds.find((t) => t.priority === RoutingPriority.DEFAULT);
  c.circuitBreakers = {
    thresholds: [
      {
        ...(current ?? { priority: RoutingPriority.DEFAULT, trackRemaining: true }),
        trackRemaining: true,
        ...defined({
          maxConnections: limits.maxConnections,
          maxConnectionPools: limits.maxConnectionPools,
          maxPendingRequests: limits.maxPendingRequests,
          maxRequests: limits.maxRequests,
          maxRetries: limits.maxRetries,
        }),
      },
      ...thresholds,
    ],
    perHostThresholds: c.circuitBreakers?.perHostThresholds ?? [],
  };
  const od = cb.outlierDetection;
  if (!od || od.disabled) return;
  const d = od.detectors;
  // Kuma turns every detector off (enforcing 0) unless the policy configures it.
  const enforce = (on: boolean) => (on ? 100 : 0);
  c.outlierDetection = OutlierDetection.fromPartial({
    splitExternalLocalOriginErrors: od.splitExternalAndLocalErrors ?? false,
    ...defined({
      interval: duration(od.interval),
      baseEjectionTime: duration(od.baseEjectionTime),
      maxEjectionPercent: od.maxEjectionPercent,
      consecutive5xx: d?.totalFailures?.consecutive,
      enforcingConsecutive5xx: enforce(d?.totalFailures?.consecutive !== undefined),
      consecutiveGatewayFailure: d?.gatewayFailures?.consecutive,
      enforcingConsecutiveGatewayFailure: enforce(d?.gatewayFailures?.consecutive !== undefined),
      consecutiveLocalOriginFailure: d?.localOriginFailures?.consecutive,
      enforcingConsecutiveLocalOriginFailure: enforce(d?.localOriginFailures?.consecutive !== undefined),
      enforcingSuccessRate: enforce(d?.successRate !== undefined),
      enforcingLocalOriginSuccessRate: enforce(d?.successRate !== undefined),
      successRateMinimumHosts: d?.successRate?.minimumHosts,
      successRateRequestVolume: d?.successRate?.requestVolume,
      // Envoy reads the factor divided by 1000.
      successRateStdevFactor: d?.successRate?.standardDeviationFactor !== undefined ? Math.trunc(decimal(d.successRate.standardDeviationFactor)! * 1000) : undefined,
      enforcingFailurePercentage: enforce(d?.failurePercentage !== undefined),
      enforcingFailurePercentageLocalOrigin: enforce(d?.failurePercentage !== undefined),
      failurePercentageMinimumHosts: d?.failurePercentage?.minimumHosts,
      failurePercentageRequestVolume: d?.failurePercentage?.requestVolume,
      failurePercentageThreshold: d?.failurePercentage?.threshold,
    }),
  });
  setPanicThreshold(c, od.healthyPanicThreshold);
}

function setPanicThreshold(c: Cluster, value: number | string | undefined): void {
  const v = decimal(value);
  if (v === undefined) return;
  c.commonLbConfig = { ...Cluster_CommonLbConfig.fromPartial(c.commonLbConfig ?? {}), healthyPanicThreshold: { value: v } };
}

const HC_DEFAULTS = { interval: '1m', timeout: '15s', unhealthyThreshold: 5, healthyThreshold: 1 };

/** Kuma `selectHealthCheckType`: the checker that fits the protocol; http/grpc fall back to tcp when disabled. */
function checkerFor(protocol: string, hc: HealthCheckConf): 'http' | 'grpc' | 'tcp' | undefined {
  const on = (x: { disabled?: boolean } | undefined) => x !== undefined && !x.disabled;
  const off = (x: { disabled?: boolean } | undefined) => x !== undefined && x.disabled === true;
  const httpish = protocol === 'http' || protocol === 'http2';
  if (httpish && on(hc.http)) return 'http';
  if (protocol === 'grpc' && on(hc.grpc)) return 'grpc';
  if (protocol === 'tcp' && on(hc.tcp)) return 'tcp';
  if (httpish && off(hc.http) && on(hc.tcp)) return 'tcp';
  if (protocol === 'grpc' && off(hc.grpc) && on(hc.tcp)) return 'tcp';
  return undefined;
}

function applyHealthCheck(c: Cluster, hc: HealthCheckConf, protocol: string): void {
  setPanicThreshold(c, hc.healthyPanicThreshold);
  if (hc.failTrafficOnPanic !== undefined) {
    const lb = Cluster_CommonLbConfig.fromPartial(c.commonLbConfig ?? {});
    lb.localityConfigSpecifier = { $case: 'zoneAwareLbConfig', value: Cluster_CommonLbConfig_ZoneAwareLbConfig.fromPartial({ failTrafficOnPanic: hc.failTrafficOnPanic }) };
    c.commonLbConfig = lb;
  }
  const kind = checkerFor(protocol, hc);
  if (!kind) return;
  // Kuma sends TCP payloads hex-encoded as `text`.
  const hex = (text: string) => ({ payload: { $case: 'text' as const, value: Buffer.from(text, 'utf8').toString('hex') } });
  const healthChecker: HealthCheck['healthChecker'] =
    kind === 'http'
      ? {
          $case: 'httpHealthCheck',
          value: HealthCheck_HttpHealthCheck.fromPartial({
            path: hc.http?.path ?? '/',
            expectedStatuses: (hc.http?.expectedStatuses ?? []).map((s) => ({ start: s, end: s + 1 })),
            codecClientType: protocol === 'http2' ? CodecClientType.HTTP2 : CodecClientType.HTTP1,
          }),
        }
      : kind === 'grpc'
        ? { $case: 'grpcHealthCheck', value: HealthCheck_GrpcHealthCheck.fromPartial(defined({ serviceName: hc.grpc?.serviceName, authority: hc.grpc?.authority })) }
        : {
            $case: 'tcpHealthCheck',
            value: HealthCheck_TcpHealthCheck.fromPartial({ send: hc.tcp?.send !== undefined ? hex(hc.tcp.send) : undefined, receive: (hc.tcp?.receive ?? []).map(hex) }),
          };
  const check = HealthCheck.fromPartial({
    ...defined({
      interval: duration(hc.interval ?? HC_DEFAULTS.interval),
      timeout: duration(hc.timeout ?? HC_DEFAULTS.timeout),
      unhealthyThreshold: hc.unhealthyThreshold ?? HC_DEFAULTS.unhealthyThreshold,
      healthyThreshold: hc.healthyThreshold ?? HC_DEFAULTS.healthyThreshold,
      initialJitter: duration(hc.initialJitter),
      intervalJitter: duration(hc.intervalJitter),
      intervalJitterPercent: hc.intervalJitterPercent,
      noTrafficInterval: duration(hc.noTrafficInterval),
      eventLogPath: hc.eventLogPath,
      alwaysLogHealthCheckFailures: hc.alwaysLogHealthCheckFailures,
      reuseConnection: hc.reuseConnection,
    }),
    healthChecker,
  });
  c.healthChecks = [...c.healthChecks, check];
}

const LB_POLICY: Record<string, Cluster_LbPolicy> = {
  RoundRobin: Cluster_LbPolicy.ROUND_ROBIN,
  LeastRequest: Cluster_LbPolicy.LEAST_REQUEST,
  Random: Cluster_LbPolicy.RANDOM,
  RingHash: Cluster_LbPolicy.RING_HASH,
  Maglev: Cluster_LbPolicy.MAGLEV,
};

function applyLoadBalancer(c: Cluster, lbs: LoadBalancingConf): void {
  const lb = lbs.loadBalancer;
  if (!lb) return;
  const policy = LB_POLICY[lb.type];
  if (policy === undefined) return;
  c.lbPolicy = policy;
  c.lbConfig = undefined;
  if (lb.type === 'LeastRequest' && lb.leastRequest) {
    const bias = decimal(lb.leastRequest.activeRequestBias);
    c.lbConfig = {
      $case: 'leastRequestLbConfig',
      value: {
        choiceCount: lb.leastRequest.choiceCount,
        activeRequestBias: bias === undefined ? undefined : { defaultValue: bias, runtimeKey: '' },
        slowStartConfig: undefined,
      },
    };
  } else if (lb.type === 'RingHash' && lb.ringHash) {
    c.lbConfig = {
      $case: 'ringHashLbConfig',
      value: {
        minimumRingSize: lb.ringHash.minRingSize,
        maximumRingSize: lb.ringHash.maxRingSize,
        hashFunction: lb.ringHash.hashFunction === 'MurmurHash2' ? Cluster_RingHashLbConfig_HashFunction.MURMUR_HASH_2 : Cluster_RingHashLbConfig_HashFunction.XX_HASH,
      },
    };
  } else if (lb.type === 'Maglev' && lb.maglev?.tableSize !== undefined) {
    c.lbConfig = { $case: 'maglevLbConfig', value: { tableSize: lb.maglev.tableSize } };
  }
}
