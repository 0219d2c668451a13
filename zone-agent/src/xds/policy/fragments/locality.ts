/**
 * MeshLoadBalancingStrategy locality awareness on a ClusterLoadAssignment (pure), as Kuma's
 * `meshloadbalancingstrategy/plugin/v1alpha1` (`claConfigurer`, `NewEndpoints`, `priority.go`):
 * - no MeshLoadBalancingStrategy, or `localityAwareness.disabled`: every zone at priority 0 (traffic spreads
 *   over all instances by weight);
 * - otherwise the local zone is priority 0 and other zones fail over:
 *   - with neither `localZone` nor `crossZone`: every other zone at priority 1;
 *   - with either: only zones admitted by a `crossZone.failover` rule whose `from` fits this zone, at the
 *     priority of the first admitting rule (rule index + 1); `None` admits nothing; a zone no rule admits is
 *     dropped, so without failover rules traffic never leaves the zone.
 * Priorities are renumbered densely from 0 (gRPC rejects gaps). `failoverThreshold.percentage` sets the
 * overprovisioning factor (Kuma: 200 by default when rules are present).
 * Sub-zone affinity (`localZone.affinityTags`) needs endpoint tags the CLA does not carry: not applied.
 */
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import type { OutboundPolicies } from '../types.js';
import { decimal } from './convert.js';

export interface LocalityPlan {
  /** Local endpoints first, other zones only as failover. */
  readonly localityAware: boolean;
  /** Priority of a zone's endpoints (0 = preferred); `undefined` = leave the zone out. */
  priorityOf(zone: string): number | undefined;
  /** Envoy overprovisioning factor to set, if the policy decides one. */
  readonly overprovisioningFactor?: number;
}

const SPREAD: LocalityPlan = { localityAware: false, priorityOf: () => 0 };

export function localityPlan(out: OutboundPolicies, localZone: string): LocalityPlan {
  const lb = out.loadBalancing;
  const la = lb?.localityAwareness;
  if (!lb || la?.disabled) return SPREAD;
  if (!la || (!la.localZone && !la.crossZone)) return { localityAware: true, priorityOf: (zone) => (zone === localZone ? 0 : 1) };
  const rules = la.crossZone?.failover ?? [];
  const priorityOf = (zone: string): number | undefined => {
    if (zone === localZone) return 0;
    for (const [i, rule] of rules.entries()) {
      if (rule.from && !rule.from.zones.includes(localZone)) continue;
      const zones = rule.to.zones ?? [];
      const admits = rule.to.type === 'Any' || (rule.to.type === 'AnyExcept' && !zones.includes(zone)) || (rule.to.type === 'Only' && zones.includes(zone));
      if (admits) return i + 1;
    }
    return undefined;
  };
  const pct = decimal(la.crossZone?.failoverThreshold?.percentage);
  return { localityAware: true, priorityOf, overprovisioningFactor: pct ? Math.trunc(100 / pct) * 100 : 200 };
}

/** A new CLA with every locality (by `locality.zone`) at its plan priority; localities of left-out zones removed. */
export function applyLocality(cla: ClusterLoadAssignment, plan: LocalityPlan): ClusterLoadAssignment {
  const out = ClusterLoadAssignment.fromPartial(cla);
  const kept = out.endpoints.flatMap((l) => {
    const p = plan.priorityOf(l.locality?.zone ?? '');
    return p === undefined ? [] : [{ ...l, priority: p }];
  });
  const dense = new Map([...new Set(kept.map((l) => l.priority))].sort((a, b) => a - b).map((p, i) => [p, i]));
  out.endpoints = kept.map((l) => ({ ...l, priority: dense.get(l.priority)! }));
  if (plan.overprovisioningFactor !== undefined) {
    out.policy = { dropOverloads: [], weightedPriorityHealth: false, ...out.policy, overprovisioningFactor: plan.overprovisioningFactor };
  }
  return out;
}
