/**
 * Public types of the policy engine (`index.ts`). Confs are the merged `default` blocks of Kuma's targetRef
 * policies (`kuma-multizone.md` §9.3), kept in the policies' own JSON shape: durations stay strings such as
 * "5s", so the Envoy fragments (`fragments/*.ts`) are the only place that converts them.
 */
import type { SpecOf } from '@ursa/proto';
import type { DataplaneResource } from '../../model/dataplane.js';
import type { PolicyResource } from '../../model/resources.js';

/** A stored targetRef policy, typed by its kind (a store `TypedResource<PolicyKind>` fits). */
export type { PolicyResource };

/** Everything the engine needs to match the policies of one proxy. */
export interface PolicyContext {
  readonly mesh: string;
  /** This zone's name (for locality and for telling zone-origin policies apart). */
  readonly zone: string;
  /** The proxy's Dataplane. */
  readonly dataplane: DataplaneResource;
  /** Every policy resource of the mesh, any kind; non-policy kinds and other meshes are ignored. */
  readonly policies: readonly PolicyResource[];
}

// ---- merged confs, per policy kind (Kuma's field names) ---------------------------------------------------------

export interface TimeoutConf {
  connectionTimeout?: string;
  idleTimeout?: string;
  http?: {
    requestTimeout?: string;
    streamIdleTimeout?: string;
    maxStreamDuration?: string;
    maxConnectionDuration?: string;
    requestHeadersTimeout?: string;
  };
}

export interface RetryBackOff {
  baseInterval?: string;
  maxInterval?: string;
}
export interface RetryConf {
  tcp?: { maxConnectAttempt?: number };
  http?: { numRetries?: number; perTryTimeout?: string; backOff?: RetryBackOff; retryOn?: string[]; [k: string]: unknown };
  grpc?: { numRetries?: number; perTryTimeout?: string; backOff?: RetryBackOff; retryOn?: string[]; [k: string]: unknown };
}

export interface CircuitBreakerConf {
  connectionLimits?: { maxConnections?: number; maxConnectionPools?: number; maxPendingRequests?: number; maxRetries?: number; maxRequests?: number };
  outlierDetection?: {
    disabled?: boolean;
    interval?: string;
    baseEjectionTime?: string;
    maxEjectionPercent?: number;
    splitExternalAndLocalErrors?: boolean;
    detectors?: {
      totalFailures?: { consecutive?: number };
      gatewayFailures?: { consecutive?: number };
      localOriginFailures?: { consecutive?: number };
      successRate?: { minimumHosts?: number; requestVolume?: number; standardDeviationFactor?: number | string };
      failurePercentage?: { minimumHosts?: number; requestVolume?: number; threshold?: number };
    };
    healthyPanicThreshold?: number | string;
  };
}

export interface HealthCheckConf {
  interval?: string;
  timeout?: string;
  unhealthyThreshold?: number;
  healthyThreshold?: number;
  initialJitter?: string;
  intervalJitter?: string;
  intervalJitterPercent?: number;
  healthyPanicThreshold?: number | string;
  failTrafficOnPanic?: boolean;
  eventLogPath?: string;
  alwaysLogHealthCheckFailures?: boolean;
  noTrafficInterval?: string;
  tcp?: { disabled?: boolean; send?: string; receive?: string[] };
  http?: { disabled?: boolean; path?: string; expectedStatuses?: number[]; requestHeadersToAdd?: unknown; [k: string]: unknown };
  grpc?: { disabled?: boolean; serviceName?: string; authority?: string };
  reuseConnection?: boolean;
}

export interface LoadBalancingConf {
  localityAwareness?: {
    disabled?: boolean;
    localZone?: { affinityTags?: { key: string; weight?: number }[] };
    crossZone?: {
      failover?: { from?: { zones: string[] }; to: { type: 'None' | 'Only' | 'Any' | 'AnyExcept'; zones?: string[] } }[];
      failoverThreshold?: { percentage: number | string };
    };
  };
  loadBalancer?: {
    type: 'RoundRobin' | 'LeastRequest' | 'RingHash' | 'Random' | 'Maglev';
    leastRequest?: { activeRequestBias?: number | string; choiceCount?: number };
    ringHash?: { hashFunction?: 'XXHash' | 'MurmurHash2'; minRingSize?: number; maxRingSize?: number; hashPolicies?: HashPolicy[] };
    maglev?: { tableSize?: number; hashPolicies?: HashPolicy[] };
    [k: string]: unknown;
  };
  hashPolicies?: HashPolicy[];
}
export interface HashPolicy {
  type: 'Header' | 'Cookie' | 'Connection' | 'SourceIP' | 'QueryParameter' | 'FilterState';
  terminal?: boolean;
  header?: { name: string };
  cookie?: { name: string; path?: string; ttl?: string };
  connection?: { sourceIP?: boolean };
  queryParameter?: { name: string };
  filterState?: { key: string };
}

/** A route backend (`backendRefs[]`): a service (MeshService by name = `kuma.io/service`) or a tagged subset. */
export interface BackendRef {
  kind: string;
  name?: string;
  tags?: Record<string, string>;
  labels?: Record<string, string>;
  port?: number;
  weight?: number;
}

export interface HttpMatch {
  path?: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
  method?: string;
  queryParams?: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  headers?: { type?: 'Exact' | 'Present' | 'RegularExpression' | 'Absent' | 'Prefix'; name: string; value?: string }[];
}
/** A MeshHTTPRoute filter as the schema stores it. */
export type HttpRouteFilter = NonNullable<NonNullable<NonNullable<NonNullable<SpecOf<'MeshHTTPRoute'>['to']>[number]['rules']>[number]['default']>['filters']>[number];
/** One merged MeshHTTPRoute rule; rules come out in the order Envoy must try them (first match wins). */
export interface HttpRouteRule {
  matches: HttpMatch[];
  default: { filters?: HttpRouteFilter[]; backendRefs?: BackendRef[] };
  /** The MeshHTTPRoute that contributed this rule (for MeshTimeout/MeshRetry targeting the route and for inspect). */
  origin: string;
}
export interface TcpRouteRule {
  default: { backendRefs: BackendRef[] };
  origin: string;
}

/** MeshTrafficPermission for one inbound: `from` entries (client selectors with an action) or `rules` lists. */
export type TrafficPermissionAction = 'Allow' | 'Deny' | 'AllowWithShadowDeny';
export interface TrafficPermissionFrom {
  /** Client selector: Mesh, MeshSubset (tags), MeshService (name), MeshServiceSubset (name + tags). */
  targetRef: { kind: string; name?: string; tags?: Record<string, string> };
  action: TrafficPermissionAction;
}
export interface SpiffeMatch {
  spiffeID?: { type: 'Exact' | 'Prefix'; value: string };
  sni?: { type: 'Exact'; value: string };
}
export interface TrafficPermissionConf {
  /** `from` sections, most specific client selector first (Kuma builds the RBAC policies in this order). */
  from: TrafficPermissionFrom[];
  /** Merged `rules[].default` (lists concatenated across policies, as Kuma's rules for MTP do). */
  rules?: { allow?: SpiffeMatch[]; deny?: SpiffeMatch[]; allowWithShadowDeny?: SpiffeMatch[] };
}

/** MeshFaultInjection: the faults of one inbound, each its own Envoy fault filter (Kuma: one per list item). */
export interface FaultInjectionConf {
  http?: {
    abort?: { httpStatus: number; percentage: number | string };
    delay?: { value: string; percentage: number | string };
    responseBandwidth?: { limit: string; percentage: number | string };
  }[];
}

/** MeshRateLimit: local (per proxy) limits of one inbound. */
export interface RateLimitConf {
  local?: {
    http?: {
      disabled?: boolean;
      requestRate?: { num: number; interval: string };
      onRateLimit?: { status?: number; headers?: { add?: { name: string; value: string }[]; set?: { name: string; value: string }[] } };
    };
    tcp?: { disabled?: boolean; connectionRate?: { num: number; interval: string } };
  };
}

/** MeshAccessLog: where an inbound's or a destination's traffic is logged. */
export interface AccessLogFormat {
  type: 'Plain' | 'Json';
  plain?: string;
  json?: { key: string; value: string }[];
  omitEmptyValues?: boolean;
}
export interface AccessLogBackend {
  type: 'Tcp' | 'File' | 'OpenTelemetry';
  tcp?: { address: string; format?: AccessLogFormat };
  file?: { path: string; format?: AccessLogFormat };
  openTelemetry?: { endpoint?: string; attributes?: { key: string; value: string }[]; body?: unknown };
}
export interface AccessLogConf {
  backends?: AccessLogBackend[];
}

/** MeshTrace (a proxy-wide `default`): the tracer of every HTTP listener of the proxy. */
export interface TraceBackend {
  type: 'Zipkin' | 'Datadog' | 'OpenTelemetry';
  zipkin?: { url: string; traceId128bit?: boolean; apiVersion?: 'httpJson' | 'httpProto'; sharedSpanContext?: boolean };
  datadog?: { url: string; splitService?: boolean };
  openTelemetry?: { endpoint?: string };
}
export interface TraceConf {
  backends?: TraceBackend[];
  sampling?: { overall?: number | string; client?: number | string; random?: number | string };
  tags?: { name: string; literal?: string; header?: { name: string; default?: string } }[];
}

/** Merged policies for one inbound (one `port` of the Dataplane). `undefined` = no policy of that kind applies. */
export interface InboundPolicies {
  readonly port: number;
  /** The inbound's `kuma.io/service`. */
  readonly service: string;
  readonly trafficPermission?: TrafficPermissionConf;
  readonly timeout?: TimeoutConf;
  readonly circuitBreaker?: CircuitBreakerConf;
  readonly faultInjection?: FaultInjectionConf;
  readonly rateLimit?: RateLimitConf;
  readonly accessLog?: AccessLogConf;
}

/** Merged proxy-wide policies (kinds with a top-level `default` and no `to` / `from` / `rules`). */
export interface ProxyWidePolicies {
  readonly trace?: TraceConf;
}

/** Merged policies for traffic from this proxy to one destination service. */
export interface OutboundPolicies {
  readonly service: string;
  readonly timeout?: TimeoutConf;
  readonly retry?: RetryConf;
  readonly circuitBreaker?: CircuitBreakerConf;
  readonly healthCheck?: HealthCheckConf;
  readonly loadBalancing?: LoadBalancingConf;
  readonly accessLog?: AccessLogConf;
  /** MeshHTTPRoute rules for this destination; empty = default route to the service. */
  readonly httpRules: readonly HttpRouteRule[];
  /** MeshTCPRoute rule for this destination, if any. */
  readonly tcpRule?: TcpRouteRule;
  /** Per-route overrides of MeshTimeout / MeshRetry that target a MeshHTTPRoute by name (`to[].targetRef.kind: MeshHTTPRoute`). */
  readonly byRoute: ReadonlyMap<string, RouteOverrides>;
}

/** MeshTimeout / MeshRetry / MeshLoadBalancingStrategy (hash policies) aimed at one MeshHTTPRoute, merged over the destination's confs. */
export interface RouteOverrides {
  readonly timeout?: TimeoutConf;
  readonly retry?: RetryConf;
  readonly loadBalancing?: LoadBalancingConf;
}

/** One matched policy as the inspect endpoint shows it. */
export interface MatchedPolicyRef {
  kind: string;
  mesh: string;
  name: string;
  origin: 'global' | 'zone' | 'unknown';
}

/** JSON for `GET /meshes/{mesh}/dataplanes/{name}/_policies`. */
export interface PoliciesInspect {
  dataplane: { mesh: string; name: string };
  /** Every policy whose top-level targetRef selects the proxy, per kind, lowest precedence first. */
  policies: (MatchedPolicyRef & { topLevel: { kind: string; name?: string; tags?: Record<string, string> } })[];
  inbounds: { port: number; service: string; policies: Record<string, { matched: MatchedPolicyRef[]; conf: unknown }> }[];
  outbounds: { service: string; policies: Record<string, { matched: MatchedPolicyRef[]; conf: unknown }> }[];
  /** Proxy-wide kinds (MeshTrace): what applies to every listener of the proxy; absent when none matched. */
  proxy?: { policies: Record<string, { matched: MatchedPolicyRef[]; conf: unknown }> };
}

export interface MatchedPolicies {
  /**
   * Equal for two proxies of a mesh whose outbound traffic the same policies (same specs) configure, so their
   * `outbound(service)` results are equal: a cache key for per-destination resources.
   */
  readonly outboundKey: string;
  /** Merged confs for an inbound port of the Dataplane; a port that is not an inbound gets no policies. */
  inbound(port: number): InboundPolicies;
  /** Merged confs for traffic to `service` (a `kuma.io/service` name). */
  outbound(service: string): OutboundPolicies;
  /** Merged proxy-wide confs (MeshTrace). */
  proxyWide(): ProxyWidePolicies;
  /** Every `default` block (`to`, `from`, `rules`) of the matched policies of `kind`: what a proxy may need clusters for. */
  defaults(kind: string): unknown[];
  /** Which policies matched and what they merged into, for the inspect endpoint. */
  inspect(services?: readonly string[]): PoliciesInspect;
}
