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
import { dataplaneOf, healthyInbounds, type DataplaneResource } from '../model/dataplane.js';
import type { MeshResource, ZoneIngressResource } from '../model/resources.js';

export interface AvailableService {
  mesh: string;
  tags: Record<string, string>;
  instances: number;
  externalService?: boolean;
}

/** An `availableServices` entry as stored (also what `computeAvailableServices` returns). */
type StoredAvailableService = NonNullable<ZoneIngressResource['spec']['availableServices']>[number];

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
export function exclusiveMeshes(meshes: readonly Pick<MeshResource, 'name' | 'spec'>[]): Set<string> {
  return new Set(meshes.filter((m) => m.spec.meshServices?.mode === 'Exclusive').map((m) => m.name));
}

export function computeAvailableServices(dataplanes: readonly DataplaneResource[], opts: { skipMeshes?: ReadonlySet<string> } = {}): AvailableService[] {
  const byKey = new Map<string, AvailableService & { key: string }>();
  for (const resource of dataplanes) {
    const dp = dataplaneOf(resource);
    if (!dp.local || opts.skipMeshes?.has(dp.mesh)) continue;
    for (const inbound of healthyInbounds(dp)) {
      // Tag-less inbounds (2.14's inboundTagsDisabled) name no service an ingress could route to.
      if (inbound.service === '') continue;
      const key = tagKey(inbound.tags);
      const id = `${dp.mesh}\u0000${key}`;
      const seen = byKey.get(id);
      if (seen) seen.instances++;
      else byKey.set(id, { mesh: dp.mesh, tags: sortedTags(inbound.tags), instances: 1, key });
    }
  }
  return [...byKey.values()]
    .sort((a, b) => compare(a.mesh, b.mesh) || compare(a.key, b.key))
    .map(({ mesh, tags, instances }) => ({ mesh, tags, instances }));
}

/** One entry in a comparable form: protobuf defaults filled in, tags in key order. */
function normalize(e: Partial<StoredAvailableService> | undefined): string {
  return JSON.stringify([e?.mesh ?? '', tagKey(e?.tags ?? {}), e?.instances ?? 0, e?.externalService === true]);
}

/**
 * Whether a stored `availableServices` value equals a computed list, element-wise as `proto.Equal` would:
 * absent equals empty, default fields equal their absence, key order of maps does not matter.
 */
export function sameAvailableServices(stored: readonly Partial<StoredAvailableService>[] | undefined, computed: readonly AvailableService[]): boolean {
  const list = stored ?? [];
  if (list.length !== computed.length) return false;
  return list.every((e, i) => normalize(e) === normalize(computed[i]));
}
