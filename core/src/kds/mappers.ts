/**
 * How resources change when they cross KDS. Each mapper is a pure function.
 *
 * Zone -> global (`fromZone`): the zone's name becomes `kuma.io/display-name`, the stored name gets Kuma's
 * hash suffix, labels `kuma.io/zone=<zone>` and `kuma.io/origin=zone` are forced, and whatever in the spec
 * names a zone (the descriptor's `zoneField`, `kuma.io/zone` in its tag maps) is pinned to the sending zone:
 * a zone can only ever write its own slice.
 * Global -> zone (`toZone`): labelled `kuma.io/origin=global`; names are kept (other zones' ingresses keep
 * their hashed global names, as in Kuma).
 */
import type { ResourceDescriptor } from '@ursa/proto';
import type { Resource } from '../store/resource-store.js';
import { forEachAtPath } from './json-path.js';
import { hashedName } from './names.js';

export const ZONE_LABEL = 'kuma.io/zone';
export const ORIGIN_LABEL = 'kuma.io/origin';
export const DISPLAY_NAME_LABEL = 'kuma.io/display-name';

export interface WireResource {
  kind: string;
  mesh: string;
  name: string;
  labels: Record<string, string>;
  spec: Record<string, unknown>;
}

/** The global's name for a resource a zone calls `name`. */
export function globalName(zone: string, mesh: string, name: string): string {
  return hashedName(mesh, name, zone);
}

export function fromZone(desc: ResourceDescriptor, zone: string, r: WireResource): WireResource {
  const display = r.labels[DISPLAY_NAME_LABEL] ?? r.name;
  const spec = structuredClone(r.spec);
  if (desc.zoneField) spec[desc.zoneField] = zone;
  for (const path of desc.tagPaths) {
    forEachAtPath(spec, path, (tags) => {
      if (ZONE_LABEL in tags) tags[ZONE_LABEL] = zone;
    });
  }
  return {
    kind: desc.kind,
    mesh: r.mesh,
    name: globalName(zone, r.mesh, display),
    labels: { ...r.labels, [DISPLAY_NAME_LABEL]: display, [ZONE_LABEL]: zone, [ORIGIN_LABEL]: 'zone' },
    spec,
  };
}

/**
 * What a zone control plane does to resources registered with it (Kuma's dataplane manager): label them
 * with the zone and origin, and add `kuma.io/zone` to their tag maps (inbounds, gateway, available
 * services), which is what cross-zone locality is computed from.
 */
export function stampZone<T extends { labels?: Record<string, string>; spec: unknown }>(desc: ResourceDescriptor, zone: string, r: T): T {
  const spec = structuredClone(r.spec) as Record<string, unknown>;
  if (spec && typeof spec === 'object') {
    for (const path of desc.tagPaths) {
      forEachAtPath(spec, path, (tags) => {
        tags[ZONE_LABEL] = zone;
      });
    }
  }
  return { ...r, labels: { ...r.labels, [ZONE_LABEL]: zone, [ORIGIN_LABEL]: 'zone' }, spec };
}

export function toZone(r: Resource): WireResource {
  return { kind: r.kind, mesh: r.mesh, name: r.name, labels: { ...r.labels, [ORIGIN_LABEL]: 'global' }, spec: r.spec };
}

/**
 * Whether zone `zone` should hold global resource `r`: types the global provides always (unless they came
 * from a zone), and resources synced across zones only when they come from another zone that is enabled.
 */
export function visibleTo(desc: ResourceDescriptor, r: Pick<Resource, 'labels'>, zone: string, isZoneEnabled: (zone: string) => boolean): boolean {
  const origin = r.labels[ORIGIN_LABEL];
  if (desc.kds === 'global-to-zones') return origin === undefined || origin === 'global';
  if (desc.kds === 'zone-to-global-to-zones') {
    const from = r.labels[ZONE_LABEL];
    return origin === 'zone' && from !== undefined && from !== zone && isZoneEnabled(from);
  }
  return false;
}
