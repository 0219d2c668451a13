/**
 * The Dataplane, ZoneIngress or ZoneEgress kuma-dp sends (`kuma-dp run --dataplane-file`): in the bootstrap
 * request's `dataplaneResource` and, from the bootstrap, in the xDS node metadata `dataplane.resource`. It
 * is Kuma's REST form, YAML or JSON (Kuma reads it as YAML, so JSON with a trailing comma passes too).
 * Checked as the zone API checks a PUT (schema, Kuma's rules, this zone stamped on it), plus what binds it to
 * the proxy: its type must be the proxy type's, its mesh and name the request's.
 */
import { parse as parseYaml } from 'yaml';
import { descriptorFor, validateResource, type ResourceInput } from '@ursa/proto';
import { stampZone } from '@ursa/core';

export type KumaProxyType = 'dataplane' | 'ingress' | 'egress';

export const KIND_OF_PROXY_TYPE: Readonly<Record<KumaProxyType, 'Dataplane' | 'ZoneIngress' | 'ZoneEgress'>> = { dataplane: 'Dataplane', ingress: 'ZoneIngress', egress: 'ZoneEgress' };

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

const META = new Set(['type', 'name', 'mesh', 'labels', 'creationTime', 'modificationTime', 'kri']);

/**
 * Parses and validates `text` for a proxy of `proxyType` named `name` in `mesh` (mesh is ignored for zone
 * ingresses and egresses, which belong to no mesh). Problems name fields under `prefix`.
 */
export function parseProxyResource(
  text: string,
  expect: { readonly proxyType: KumaProxyType; readonly mesh: string; readonly name: string; readonly zone: string },
  prefix: string,
): { ok: true; value: ResourceInput } | { ok: false; problems: FieldProblem[] } {
  const at = (f: string) => (f === '' ? prefix : `${prefix}.${f}`);
  let body: unknown;
  try {
    body = parseYaml(text, { maxAliasCount: 50 });
  } catch (err) {
    return { ok: false, problems: [{ field: prefix, message: `is not valid YAML or JSON: ${firstLine(err)}` }] };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, problems: [{ field: prefix, message: 'must be a Dataplane, ZoneIngress or ZoneEgress object' }] };
  const b = body as Record<string, unknown>;
  const kind = KIND_OF_PROXY_TYPE[expect.proxyType];
  if (b.type !== kind) {
    return { ok: false, problems: [{ field: at('type'), message: `must be ${JSON.stringify(kind)} for proxy type ${JSON.stringify(expect.proxyType)}, got ${JSON.stringify(b.type)}` }] };
  }
  const problems: FieldProblem[] = [];
  if (b.name !== expect.name) problems.push({ field: at('name'), message: `must be the proxy's name ${JSON.stringify(expect.name)}, got ${JSON.stringify(b.name)}` });
  const desc = descriptorFor(kind)!;
  if (desc.scope === 'mesh' && b.mesh !== expect.mesh) problems.push({ field: at('mesh'), message: `must be the proxy's mesh ${JSON.stringify(expect.mesh)}, got ${JSON.stringify(b.mesh)}` });
  const spec = Object.fromEntries(Object.entries(b).filter(([k]) => !META.has(k)));
  const labels: unknown = b.labels === undefined || b.labels === null ? {} : b.labels;
  const draft = { kind, mesh: desc.scope === 'mesh' ? b.mesh : undefined, name: b.name, labels, spec };
  // Stamped as the zone API stamps what is registered there (labels that are not an object are refused as such).
  const stampable = typeof labels === 'object' && !Array.isArray(labels);
  const checked = validateResource(stampable ? stampZone(desc, expect.zone, draft as typeof draft & { labels: Record<string, string> }) : draft);
  if (!checked.ok) problems.push(...checked.violations.filter((v) => !problems.some((p) => p.field === at(v.field))).map((v) => ({ field: at(v.field), message: v.message })));
  if (problems.length > 0 || !checked.ok) return { ok: false, problems };
  return { ok: true, value: checked.value };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}
