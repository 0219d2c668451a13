/**
 * One validator for every boundary (REST, KDS frames, the zone agent's API): given a kind and a body, it
 * checks the meta fields and the spec against the descriptor and returns every violation at once, each with
 * Kuma's field path (`spec.to[0].default.http.requestTimeout`). It never throws.
 */
import type { z } from 'zod';
import type { ResourceDescriptor } from './descriptor.js';
import { labelKeyProblem, labelValueProblem } from './schemas/common.js';
import { descriptorFor } from './resources.js';

export interface Violation {
  /** JSON path of the offending field, Kuma style: `spec.to[0].targetRef.kind`, `name`, `labels["a/b"]`. */
  readonly field: string;
  readonly message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; violations: Violation[] };

/** A resource as the store keeps it: identity, labels and a spec object. */
export interface ResourceInput {
  kind: string;
  mesh: string;
  name: string;
  labels: Record<string, string>;
  spec: Record<string, unknown>;
}

const NAME_MAX = 253;
/** Kuma's rule: a lowercase RFC 1123 subdomain. */
const RFC1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'must be defined';
  if (name.length > NAME_MAX) return `must be at most ${NAME_MAX} characters`;
  if (!RFC1123_SUBDOMAIN.test(name)) {
    return "invalid name: must be a lowercase RFC 1123 subdomain (lowercase alphanumerics, '-' or '.', starting and ending with an alphanumeric)";
  }
  return undefined;
}

/** `['to', 0, 'default']` → `to[0].default`; keys that are not identifiers are quoted. */
export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

export function zodViolations(error: z.ZodError, prefix: string): Violation[] {
  return error.issues.flatMap((issue) =>
    // zod reports unknown keys on their parent object; name each offending field instead.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: formatPath([...issue.path, key], prefix), message: `unknown field ${JSON.stringify(key)}` }))
      : [{ field: formatPath(issue.path, prefix), message: issue.message }],
  );
}

/** Validates a spec alone against its descriptor; field paths start with `spec.` for spec-shaped types. */
export function validateSpec(desc: ResourceDescriptor, spec: unknown): Result<Record<string, unknown>> {
  const parsed = desc.schema.safeParse(spec ?? {});
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, violations: zodViolations(parsed.error, desc.shape === 'spec' ? 'spec' : '') };
}

/**
 * Validates a whole resource: the kind is known, the name follows Kuma's rules, the mesh is set exactly
 * when the type is mesh-scoped, labels are well-formed, and the spec matches the type's schema.
 */
export function validateResource(input: {
  kind: unknown;
  mesh?: unknown;
  name: unknown;
  labels?: unknown;
  spec: unknown;
}): Result<ResourceInput> {
  const desc = typeof input.kind === 'string' ? descriptorFor(input.kind) : undefined;
  if (!desc) {
    return { ok: false, violations: [{ field: 'type', message: `unknown resource type ${JSON.stringify(input.kind)}` }] };
  }
  const violations: Violation[] = [];
  const np = nameProblem(input.name);
  if (np) violations.push({ field: 'name', message: np });

  let mesh = '';
  if (desc.scope === 'mesh') {
    const mp = nameProblem(input.mesh);
    if (mp) violations.push({ field: 'mesh', message: mp });
    else mesh = input.mesh as string;
  } else if (input.mesh !== undefined && input.mesh !== '') {
    violations.push({ field: 'mesh', message: `must not be set: ${desc.kind} is not mesh-scoped` });
  }

  const labels: Record<string, string> = {};
  if (input.labels !== undefined && input.labels !== null) {
    if (typeof input.labels !== 'object' || Array.isArray(input.labels)) {
      violations.push({ field: 'labels', message: 'must be an object of string values' });
    } else {
      for (const [k, v] of Object.entries(input.labels as Record<string, unknown>)) {
        const problem = typeof v !== 'string' ? 'label values must be strings' : (labelKeyProblem(k) ?? labelValueProblem(v));
        if (problem) violations.push({ field: formatPath([k], 'labels'), message: problem });
        else labels[k] = v as string;
      }
    }
  }

  const spec = validateSpec(desc, input.spec);
  if (!spec.ok) violations.push(...spec.violations);
  if (violations.length > 0 || !spec.ok) return { ok: false, violations };
  return { ok: true, value: { kind: desc.kind, mesh, name: input.name as string, labels, spec: spec.value } };
}
