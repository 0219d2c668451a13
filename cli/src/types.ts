/**
 * Resource types as the command line names them, derived from the descriptor table in @ursa/proto: the REST
 * path (`meshtimeouts`), its other paths (`zone-ingresses`), the kind (`MeshTimeout`, any case), singular or
 * plural (`meshtimeout`, `meshretry`), as kumactl accepts `get meshtimeouts` and `get meshtimeout NAME`, or Kuma's
 * short name (`mt`, `mtp`).
 */
import { RESOURCES, type ResourceDescriptor } from '@ursa/proto';
import { UsageError } from './errors.js';

const singular = (p: string) => (p.endsWith('ies') ? `${p.slice(0, -3)}y` : p.endsWith('sses') || p.endsWith('ches') ? p.slice(0, -2) : p.endsWith('s') ? p.slice(0, -1) : p);

const byName = new Map<string, ResourceDescriptor>();
for (const d of RESOURCES) {
  for (const p of [d.path, ...d.altPaths]) {
    byName.set(p, d);
    byName.set(singular(p), d);
  }
  byName.set(d.kind.toLowerCase(), d);
}
// Kuma's short names (`mt`, `mtp`, `dp`) last: a path or kind of the same spelling wins.
for (const d of RESOURCES) if (d.shortName !== '' && !byName.has(d.shortName)) byName.set(d.shortName, d);

export function resolveType(name: string): ResourceDescriptor {
  const d = byName.get(name.toLowerCase());
  if (!d) throw new UsageError(`unknown resource type "${name}" (one of: ${RESOURCES.map((r) => r.path).join(', ')})`);
  return d;
}

export function descriptorForKind(kind: string): ResourceDescriptor | undefined {
  return RESOURCES.find((d) => d.kind === kind);
}

/** The REST path of a type's collection (`/meshes/default/meshtimeouts`, `/zones`). */
export function collectionPath(d: ResourceDescriptor, mesh: string): string {
  return d.scope === 'mesh' ? `/meshes/${encodeURIComponent(mesh)}/${d.path}` : `/${d.path}`;
}

export function itemPath(d: ResourceDescriptor, mesh: string, name: string): string {
  return `${collectionPath(d, mesh)}/${encodeURIComponent(name)}`;
}
