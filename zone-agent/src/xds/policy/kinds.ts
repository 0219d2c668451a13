/**
 * The policy kinds this engine applies and where each one's merged conf goes. Which sections a kind has
 * (`to` / `from` / `rules`) comes from the descriptor table (proto/src/resources.ts); this table only says
 * how the merged result is used, as Kuma's per-policy plugins do. Kinds absent here are stored and synced
 * but not yet turned into Envoy config (README "Policies in xDS").
 */
import type { InboundPolicies, OutboundPolicies, ProxyWidePolicies, RouteOverrides } from './types.js';

export type MergeStyle =
  /** fold `default` blocks with JSON merge patch */
  | 'default'
  /** MeshTrafficPermission: keep every `from` entry and rule list, in precedence order */
  | 'permissions'
  /** MeshHTTPRoute: rules merged by their `matches`, first match wins */
  | 'http-rules'
  /** MeshTCPRoute: the single rule's `default`, folded */
  | 'tcp-rule';

export interface AppliedKind {
  readonly merge: MergeStyle;
  readonly inbound?: keyof Omit<InboundPolicies, 'port' | 'service'>;
  readonly outbound?: keyof Omit<OutboundPolicies, 'service' | 'byRoute'>;
  /** Kinds with only a top-level `default` (MeshTrace): one conf for the whole proxy. */
  readonly proxyWide?: keyof ProxyWidePolicies;
  /** `to[].targetRef.kind: MeshHTTPRoute` entries land in `OutboundPolicies.byRoute[<route>][field]`. */
  readonly byRoute?: keyof RouteOverrides;
}

export const APPLIED_KINDS: Readonly<Record<string, AppliedKind>> = Object.freeze({
  MeshTrafficPermission: { merge: 'permissions', inbound: 'trafficPermission' },
  MeshTimeout: { merge: 'default', inbound: 'timeout', outbound: 'timeout', byRoute: 'timeout' },
  MeshRetry: { merge: 'default', outbound: 'retry', byRoute: 'retry' },
  MeshCircuitBreaker: { merge: 'default', inbound: 'circuitBreaker', outbound: 'circuitBreaker' },
  MeshHealthCheck: { merge: 'default', outbound: 'healthCheck' },
  MeshLoadBalancingStrategy: { merge: 'default', outbound: 'loadBalancing', byRoute: 'loadBalancing' },
  MeshHTTPRoute: { merge: 'http-rules', outbound: 'httpRules' },
  MeshTCPRoute: { merge: 'tcp-rule', outbound: 'tcpRule' },
  // `to` of these two exists only for gateways, which Ursa does not generate: inbound only, as on Kuma sidecars.
  MeshFaultInjection: { merge: 'default', inbound: 'faultInjection' },
  MeshRateLimit: { merge: 'default', inbound: 'rateLimit' },
  MeshAccessLog: { merge: 'default', inbound: 'accessLog', outbound: 'accessLog' },
  MeshTrace: { merge: 'default', proxyWide: 'trace' },
});
