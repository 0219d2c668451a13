/**
 * The policy engine of the zone agent's xDS generation: match Kuma targetRef policies to a proxy, merge them
 * (`kuma-multizone.md` §9.4), and turn the merged confs into Envoy fragments the generator splices into its
 * resources. Public API; described in /work/notes/xds-policy-api.md. Everything here is pure.
 */
export type * from './types.js';
export { matchPolicies } from './match.js';
export { APPLIED_KINDS } from './kinds.js';
export { decorateCluster, decorateInboundCluster, type ClusterOptions } from './fragments/cluster.js';
export { httpRoutes, retryPolicy, type ClusterNamer, type RouteOptions } from './fragments/routes.js';
export { routeBackendServices } from './backends.js';
export { tcpClusterSpecifier, decorateTcpProxy } from './fragments/tcp.js';
export { inboundNetworkRbacFilters, inboundRbacFilters, NETWORK_RBAC_FILTER_NAME, RBAC_FILTER_NAME, type RbacOptions } from './fragments/rbac.js';
export { applyHcmTimeouts } from './fragments/hcm.js';
export { localityPlan, applyLocality, type LocalityPlan } from './fragments/locality.js';
export { inboundFaultFilters, FAULT_FILTER_NAME } from './fragments/fault.js';
export { applyRateLimitRoutes, inboundRateLimitHttpFilters, inboundRateLimitNetworkFilters, HTTP_RATE_LIMIT_FILTER_NAME, TCP_RATE_LIMIT_FILTER_NAME } from './fragments/ratelimit.js';
export { accessLogClusters, accessLogs, accessLogSocketPath, applyHcmAccessLog, applyTcpAccessLog, type AccessLogValues } from './fragments/access-log.js';
export { applyHcmTracing, traceClusters, type TraceValues } from './fragments/trace.js';
