/**
 * Which proxies and inbounds a policy's top-level targetRef selects, and the precedence order of policies
 * (Kuma v2.14 `pkg/plugins/policies/core/matchers/dataplane.go` and `rules/sort/sort.go`, `kuma-multizone.md`
 * §9.2 and §9.4). Pure functions over typed specs and inbounds: the zone agent's policy engine ranks and
 * selects with them, and both planes' `_resources/dataplanes` (a policy's affected proxies) select with them.
 */
import { TARGET_REF_KINDS, type TargetRefSpec } from '@ursa/proto';
import { DISPLAY_NAME_LABEL, ORIGIN_LABEL, ZONE_LABEL } from '../kds/mappers.js';

/** What selection and precedence read of a resource (a policy, a Dataplane or its model). */
interface Named {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export const ROLE_LABEL = 'kuma.io/policy-role';

/** A targetRef as the engine reads it; a missing top-level targetRef means `Mesh`. */
export interface TargetRef {
  kind: string;
  name?: string;
  labels?: Record<string, string>;
  tags?: Record<string, string>;
  sectionName?: string;
}

/** The engine's copy of a stored targetRef: empty names, label and tag maps read as absent. */
export function readRef(raw: TargetRefSpec | undefined): TargetRef {
  if (!raw) return { kind: 'Mesh' };
  const ref: TargetRef = { kind: raw.kind };
  if (raw.name) ref.name = raw.name;
  if (raw.labels && Object.keys(raw.labels).length > 0) ref.labels = { ...raw.labels };
  if (raw.tags && Object.keys(raw.tags).length > 0) ref.tags = { ...raw.tags };
  if (raw.sectionName) ref.sectionName = raw.sectionName;
  return ref;
}

/** One inbound of a Dataplane, as policies see it (every inbound, `Ignored` ones included). */
export interface InboundInfo {
  /** `inbound.name` (`''` when unnamed): a policy's `sectionName` may name it. */
  readonly name: string;
  readonly port: number;
  /** `kuma.io/service` (`''` when absent). */
  readonly service: string;
  readonly tags: Readonly<Record<string, string>>;
}

const hasTags = (have: Readonly<Record<string, string>>, want: Readonly<Record<string, string>> | undefined) =>
  Object.entries(want ?? {}).every(([k, v]) => have[k] === v);

/** Kuma `isSelectedByLabels`: every label of the ref is on the Dataplane (display name included). */
function dataplaneHasLabels(dp: Named, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(labels).every(([k, v]) => (k === DISPLAY_NAME_LABEL ? (dp.labels[k] ?? dp.name) === v : dp.labels[k] === v));
}

export interface Selection {
  /** Inbound ports the policy configures (inbound traffic). */
  readonly inbounds: readonly number[];
  /** The policy configures this proxy's outbound traffic. */
  readonly proxy: boolean;
}
const NONE: Selection = { inbounds: [], proxy: false };

/**
 * Kuma `DppSelectedByPolicy`. One deliberate difference: `Mesh` and whole-Dataplane refs also select a proxy
 * without inbounds (a proxyless gRPC client registers none), where Kuma would see no inbound and skip it.
 */
export function selects(policy: Named, top: TargetRef, dp: Named, inbounds: readonly InboundInfo[], zone: string): Selection {
  if (!selectedByZone(policy, dp, zone)) return NONE;
  const all = inbounds.map((i) => i.port);
  const pick = (pred: (i: InboundInfo) => boolean): Selection => {
    const ports = inbounds.filter(pred).map((i) => i.port);
    return { inbounds: ports, proxy: ports.length > 0 };
  };
  switch (top.kind) {
    case 'Mesh':
      return { inbounds: all, proxy: true };
    case 'Dataplane': {
      const byName = top.name !== undefined;
      const byLabels = top.labels !== undefined && Object.keys(top.labels).length > 0;
      if (byName && (dp.labels[DISPLAY_NAME_LABEL] ?? dp.name) !== top.name && dp.name !== top.name) return NONE;
      if (byLabels && !dataplaneHasLabels(dp, top.labels!)) return NONE;
      if (top.sectionName === undefined) return { inbounds: all, proxy: true };
      return pick((i) => i.name === top.sectionName || String(i.port) === top.sectionName);
    }
    case 'MeshSubset':
      return pick((i) => hasTags(i.tags, top.tags));
    case 'MeshService':
      return pick((i) => i.service !== '' && i.service === (top.name ?? top.labels?.[DISPLAY_NAME_LABEL]));
    case 'MeshServiceSubset':
      return pick((i) => i.service !== '' && i.service === top.name && hasTags(i.tags, top.tags));
    default:
      // MeshGateway selects gateways only; Ursa has no gateway proxies yet.
      return NONE;
  }
}

/**
 * Kuma `dppSelectedByZone`: a zone-origin policy applies only in the zone that created it (other zones'
 * policies never reach this agent, but a copy labelled for another zone must still not apply here).
 */
function selectedByZone(policy: Named, dp: Named, zone: string): boolean {
  if (policy.labels[ROLE_LABEL] === 'producer') return true;
  if (dp.labels[ORIGIN_LABEL] === undefined || dp.labels[ORIGIN_LABEL] === 'global') return true;
  if (policy.labels[ORIGIN_LABEL] !== 'zone') return true;
  const policyZone = policy.labels[ZONE_LABEL];
  return policyZone === undefined || policyZone === zone;
}

// ---- precedence ---------------------------------------------------------------------------------------------

const kindRank = (kind: string) => {
  const i = (TARGET_REF_KINDS as readonly string[]).indexOf(kind);
  return i < 0 ? TARGET_REF_KINDS.length : i;
};
/** Kuma `CompareDataplaneKind`: by name beats by labels beats all; with sectionName beats without. */
const dataplaneRank = (ref: TargetRef) => (ref.name !== undefined ? 4 : ref.labels && Object.keys(ref.labels).length > 0 ? 2 : 0) + (ref.sectionName ? 1 : 0);
const ORIGIN_RANK: Record<string, number> = { global: 1, zone: 3 };
const ROLE_RANK: Record<string, number> = { system: 0, producer: 1, consumer: 2, 'workload-owner': 3 };

export const originOf = (r: Named): 'global' | 'zone' | 'unknown' => {
  const o = r.labels[ORIGIN_LABEL];
  return o === 'global' || o === 'zone' ? o : 'unknown';
};
export const displayName = (r: Named): string => r.labels[DISPLAY_NAME_LABEL] ?? r.name;

export interface Ranked {
  readonly resource: Named;
  readonly top: TargetRef;
}

/** Kuma `CompareByPolicyAttributes`: top-level kind, Dataplane specificity, origin, role. Ascending precedence. */
export function compareAttributes(a: Ranked, b: Ranked): number {
  return (
    kindRank(a.top.kind) - kindRank(b.top.kind) ||
    (a.top.kind === 'Dataplane' && b.top.kind === 'Dataplane' ? dataplaneRank(a.top) - dataplaneRank(b.top) : 0) ||
    (ORIGIN_RANK[originOf(a.resource)] ?? 2) - (ORIGIN_RANK[originOf(b.resource)] ?? 2) ||
    (ROLE_RANK[a.resource.labels[ROLE_LABEL] ?? 'system'] ?? 0) - (ROLE_RANK[b.resource.labels[ROLE_LABEL] ?? 'system'] ?? 0)
  );
}

/** Kuma `CompareByDisplayName`: reversed, so the lexicographically smaller name sorts later and wins. */
export function compareDisplayName(a: Ranked, b: Ranked): number {
  const x = displayName(a.resource);
  const y = displayName(b.resource);
  return x < y ? 1 : x > y ? -1 : 0;
}

/** Destination kind order of `to[].targetRef` (Kuma `CompareByToEntry`): Mesh < MeshService, with sectionName later. */
export function compareToRef(a: TargetRef, b: TargetRef): number {
  return kindRank(a.kind) - kindRank(b.kind) || (a.kind === 'MeshService' ? (a.sectionName ? 1 : 0) - (b.sectionName ? 1 : 0) : 0);
}
