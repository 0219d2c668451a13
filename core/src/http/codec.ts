/**
 * Resources to and from Kuma's REST JSON. Legacy (`flat`) types put meta and spec side by side
 * (`{type, name, creationTime, ..., networking: {...}}`); new-style (`spec`) types nest the spec. Which one
 * is the descriptor's `shape`.
 */
import type { ResourceDescriptor, Violation } from '@ursa/proto';
import type { Resource, ResourceDraft } from '../store/resource-store.js';

/** Fields that are meta, not spec, in a flat body; the read-only ones are accepted and ignored on PUT. */
const META_FIELDS = new Set(['type', 'name', 'mesh', 'labels', 'creationTime', 'modificationTime', 'kri']);
const SPEC_BODY_FIELDS = new Set([...META_FIELDS, 'spec', 'status']);

/** Kuma Resource Identifier: `kri_<short>_<mesh>_<zone>_<namespace>_<name>_<section>`. */
export function kri(desc: ResourceDescriptor, r: Pick<Resource, 'mesh' | 'name' | 'labels'>): string {
  const name = r.labels['kuma.io/display-name'] ?? r.name;
  return ['kri', desc.shortName, r.mesh, r.labels['kuma.io/zone'] ?? '', r.labels['k8s.kuma.io/namespace'] ?? '', name, ''].join('_');
}

export function toRest(desc: ResourceDescriptor, r: Resource): Record<string, unknown> {
  const meta: Record<string, unknown> = { type: desc.kind };
  if (desc.scope === 'mesh') meta.mesh = r.mesh;
  meta.name = r.name;
  meta.creationTime = r.creationTime.toISOString();
  meta.modificationTime = r.modificationTime.toISOString();
  // Kuma omits empty labels, and the KRI of types without a short name (secrets, insights).
  if (Object.keys(r.labels).length > 0) meta.labels = r.labels;
  if (desc.shortName !== '') meta.kri = kri(desc, r);
  return desc.shape === 'spec' ? { ...meta, spec: r.spec } : { ...meta, ...r.spec };
}

/**
 * Reads a PUT body for the resource named by the URL. The body must repeat type, name and (for mesh-scoped
 * types) mesh; mismatches are violations with Kuma's messages. Returns the draft and any violations found
 * here; the spec itself is validated by the store. Top-level fields a new-style body has no place for are
 * dropped, as Kuma's decoder does, and named in `dropped` (the caller warns about them).
 */
export function fromRest(
  desc: ResourceDescriptor,
  body: unknown,
  url: { mesh?: string; name: string },
): { draft?: ResourceDraft; violations: Violation[]; dropped: string[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { violations: [{ field: '', message: 'the body must be a JSON or YAML object' }], dropped: [] };
  }
  const b = body as Record<string, unknown>;
  const violations: Violation[] = [];
  if (b.type !== desc.kind) violations.push({ field: 'type', message: 'type from the URL has to be the same as in body' });
  if (b.name !== url.name) violations.push({ field: 'name', message: 'name from the URL has to be the same as in body' });
  // Kuma: a body without `mesh` is in the URL's mesh.
  if (desc.scope === 'mesh' && b.mesh !== undefined && b.mesh !== '' && b.mesh !== url.mesh) violations.push({ field: 'mesh', message: 'mesh from the URL has to be the same as in body' });

  let spec: unknown;
  const dropped: string[] = [];
  if (desc.shape === 'spec') {
    dropped.push(...Object.keys(b).filter((k) => !SPEC_BODY_FIELDS.has(k)));
    if (b.spec === undefined) violations.push({ field: 'spec', message: 'must be defined' });
    spec = b.spec;
  } else {
    spec = Object.fromEntries(Object.entries(b).filter(([k]) => !META_FIELDS.has(k)));
  }
  const labels = b.labels === undefined || b.labels === null ? {} : (b.labels as Record<string, string>);
  return {
    violations,
    dropped,
    draft: { kind: desc.kind, mesh: desc.scope === 'mesh' ? url.mesh : undefined, name: url.name, labels, spec },
  };
}
