/**
 * ClusterLoadAssignments from a service's endpoints (pure; Kuma `pkg/xds/topology/outbound.go`).
 *
 * One locality per zone, each with `load_balancing_weight` = its instances (gRPC needs a weight on every
 * locality; Envoy, without locality-weighted LB, balances over the endpoints' own weights, the same
 * spread). Remote zones appear only when `includeRemote` (sidecars: only with mesh mTLS, because a remote
 * ingress routes by the TLS SNI). Priorities:
 * - not locality-aware: every locality at priority 0, so traffic spreads by instance count;
 * - locality-aware: `priorityOf(zone)` (local 0, remote 1 by default, or a policy's failover order);
 *   `undefined` drops a zone. Priorities are renumbered densely from 0, so when the local zone has no
 *   instance left the remote ones become priority 0 (Envoy and gRPC want no gaps).
 */
import { HealthStatus } from '@ursa/proto/gen/envoy/config/core/v3/health_check.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import type { ServiceEndpoints } from './endpoints.js';

export interface LocalityOptions {
  readonly localZone: string;
  readonly includeRemote: boolean;
  /** undefined: every zone at priority 0. */
  readonly priorityOf?: (zone: string) => number | undefined;
}

/** Local zone first, everything else after it. */
export const localFirst = (localZone: string) => (zone: string) => (zone === localZone ? 0 : 1);

export function loadAssignmentFor(clusterName: string, s: ServiceEndpoints | undefined, opts: LocalityOptions): ClusterLoadAssignment {
  const seen = new Set<string>();
  const groups: { priority: number; zone: string; eps: { address: string; port: number; weight: number }[] }[] = [];
  for (const z of s?.zones ?? []) {
    if (z.zone !== opts.localZone && !opts.includeRemote) continue;
    const priority = opts.priorityOf ? opts.priorityOf(z.zone) : 0;
    if (priority === undefined) continue;
    const eps = z.endpoints.filter((e) => {
      const key = `${e.address}:${e.port}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (eps.length > 0) groups.push({ priority, zone: z.zone, eps });
  }
  const dense = new Map([...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b).map((p, i) => [p, i] as const));
  return ClusterLoadAssignment.fromPartial({
    clusterName,
    endpoints: groups.map((g) => ({
      locality: { region: '', zone: g.zone, subZone: '' },
      loadBalancingWeight: g.eps.reduce((sum, e) => sum + e.weight, 0),
      priority: dense.get(g.priority)!,
      lbEndpoints: g.eps.map((e) => ({
        hostIdentifier: { $case: 'endpoint' as const, value: { address: { address: { $case: 'socketAddress' as const, value: { address: e.address, portSpecifier: { $case: 'portValue' as const, value: e.port } } } } } },
        healthStatus: HealthStatus.HEALTHY,
        loadBalancingWeight: e.weight,
      })),
    })),
  });
}
