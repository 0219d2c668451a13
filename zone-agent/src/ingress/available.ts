/**
 * ZoneIngress `availableServices`, computed from the zone's own dataplanes (`kuma-multizone.md` §4.1, Kuma's
 * `pkg/zone/available_services.go`). Pure: no store, no clock.
 *
 * For every local Dataplane (origin not `global`), every healthy inbound contributes its tags (all of them:
 * they include `kuma.io/service` and the `kuma.io/zone` the zone stamped at registration). Identical tag sets
 * in one mesh are counted together; the list is sorted by mesh, then by the canonical `k=v,k=v` tag string.
 *
 * Deliberately not done (as upstream, or not modelled here):
 * - external services behind a zone egress (`routing.zoneEgress`) and built-in MeshGateway cross-mesh
 *   listeners are not added;
 * - `experimental.ingressTagFilters` is not supported: every tag is kept.
 * Meshes with `meshServices.mode: Exclusive` are skipped, as upstream.
 */
import { ORIGIN_LABEL } from '@ursa/core';

export const SERVICE_TAG = 'kuma.io/service';

export interface AvailableService {
  mesh: string;
  tags: Record<string, string>;
  instances: number;
  externalService?: boolean;
}

/** The parts of a stored resource this module reads. */
export interface ResourceLike {
  readonly mesh: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: Readonly<Record<string, unknown>>;
}

/** Inbound `state` enum (`Ready`, `NotReady`, `Ignored`), as a name or its protojson number. */
const INBOUND_STATES = ['Ready', 'NotReady', 'Ignored'] as const;
const MESH_SERVICES_MODES = ['Disabled', 'Everywhere', 'ReachableBackends', 'Exclusive'] as const;

const enumName = (v: unknown, names: readonly string[]): string | undefined =>
  typeof v === 'number' ? names[v] : typeof v === 'string' ? v : undefined;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Resources that came from the global (other zones' copies) are never this zone's own. */
export const isLocal = (r: { labels: Readonly<Record<string, string>> }): boolean => r.labels[ORIGIN_LABEL] !== 'global';

/**
 * Kuma's `GetHealthyInbounds`: an inbound counts unless its health says not ready (`health` present without
 * `ready: true`) or its state is `NotReady` / `Ignored`.
 */
export function isHealthyInbound(inbound: Readonly<Record<string, unknown>>): boolean {
  const health = inbound.health;
  if (health !== undefined && health !== null && !(isRecord(health) && health.ready === true)) return false;
  const state = enumName(inbound.state, INBOUND_STATES);
  return state !== 'NotReady' && state !== 'Ignored';
}

/** `k=v,k=v` with keys sorted (code-unit order, as Go's byte order for these ASCII keys). */
export function tagKey(tags: Readonly<Record<string, string>>): string {
  return Object.keys(tags)
    .sort(compare)
    .map((k) => `${k}=${tags[k]}`)
    .join(',');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(tags).sort(compare)) out[k] = tags[k]!;
  return out;
}

/** Names of meshes whose `meshServices.mode` is `Exclusive`: they route by MeshService only and are skipped. */
export function exclusiveMeshes(meshes: readonly ResourceLike[]): Set<string> {
  const out = new Set<string>();
  for (const m of meshes) {
    const ms = m.spec.meshServices;
    if (isRecord(ms) && enumName(ms.mode, MESH_SERVICES_MODES) === 'Exclusive') out.add(m.name);
  }
  return out;
}

export function computeAvailableServices(dataplanes: readonly ResourceLike[], opts: { skipMeshes?: ReadonlySet<string> } = {}): AvailableService[] {
  const byKey = new Map<string, AvailableService & { key: string }>();
  for (const dp of dataplanes) {
    if (!isLocal(dp) || opts.skipMeshes?.has(dp.mesh)) continue;
    const networking = dp.spec.networking;
    if (!isRecord(networking) || !Array.isArray(networking.inbound)) continue;
    for (const inbound of networking.inbound as unknown[]) {
      if (!isRecord(inbound) || !isHealthyInbound(inbound)) continue;
      const tags = inbound.tags;
      // Tag-less inbounds (2.14's inboundTagsDisabled) name no service an ingress could route to.
      if (!isRecord(tags) || typeof tags[SERVICE_TAG] !== 'string') continue;
      const stringTags = Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => typeof e[1] === 'string'));
      const key = tagKey(stringTags);
      const id = `${dp.mesh}\u0000${key}`;
      const seen = byKey.get(id);
      if (seen) seen.instances++;
      else byKey.set(id, { mesh: dp.mesh, tags: sortedTags(stringTags), instances: 1, key });
    }
  }
  return [...byKey.values()]
    .sort((a, b) => compare(a.mesh, b.mesh) || compare(a.key, b.key))
    .map(({ mesh, tags, instances }) => ({ mesh, tags, instances }));
}

/** One entry in a comparable form: protobuf defaults filled in, tags in key order. */
function normalize(v: unknown): string {
  const e = isRecord(v) ? v : {};
  const tags = isRecord(e.tags) ? (e.tags as Record<string, string>) : {};
  return JSON.stringify([typeof e.mesh === 'string' ? e.mesh : '', tagKey(tags), Number(e.instances ?? 0), e.externalService === true]);
}

/**
 * Whether a stored `availableServices` value equals a computed list, element-wise as `proto.Equal` would:
 * absent equals empty, default fields equal their absence, key order of maps does not matter.
 */
export function sameAvailableServices(stored: unknown, computed: readonly AvailableService[]): boolean {
  const list = Array.isArray(stored) ? stored : [];
  if (list.length !== computed.length) return false;
  return list.every((e, i) => normalize(e) === normalize(computed[i]));
}
