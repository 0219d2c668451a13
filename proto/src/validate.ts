/**
 * One validator for every boundary (REST, KDS frames, the zone agent's API): given a kind and a body, it
 * checks the meta fields and the spec against the descriptor and returns every violation at once, each with
 * Kuma's field path (`spec.to[0].default.http.requestTimeout`). It never throws.
 */
import type { z } from 'zod';
import type { ResourceDescriptor } from './descriptor.js';
import { labelKeyProblem, labelValueProblem } from './schemas/common.js';
import { descriptorFor } from './resources.js';
import { jsonByteLength, MAX_RESOURCE_BYTES } from './size.js';

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

/**
 * Why a string cannot be stored as it is, or undefined. PostgreSQL text and jsonb refuse U+0000, and jsonb
 * refuses an unpaired UTF-16 surrogate (`"\ud800"`); a driver error there would be a 500 for a client's
 * mistake, and a text column would silently store U+FFFD instead.
 */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL (U+0000) characters';
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)) return 'must not contain unpaired UTF-16 surrogates';
  return undefined;
}

/** Deeper documents are refused: no Kuma spec comes near this, and JSON.stringify/jsonb recurse per level. */
export const MAX_SPEC_DEPTH = 64;

/**
 * Problems that would make a JSON value unstorable or change it silently on the way to jsonb, found by
 * walking it (schemas accept anything in free-form fields such as an OTel log `body`):
 * - strings and keys with `textProblem`s (a 500 from the database otherwise);
 * - non-finite numbers (YAML `.nan`/`.inf`, JSON `1e999`), which JSON.stringify turns into `null`;
 * - nesting deeper than MAX_SPEC_DEPTH (a stack overflow in JSON.stringify otherwise; also stops cycles
 *   built from YAML aliases).
 */
export function storableViolations(value: unknown, prefix: string): Violation[] {
  const out: Violation[] = [];
  const walk = (v: unknown, path: PropertyKey[]): void => {
    if (typeof v === 'string') {
      const p = textProblem(v);
      if (p) out.push({ field: formatPath(path, prefix), message: p });
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) out.push({ field: formatPath(path, prefix), message: 'must be a finite number' });
    } else if (typeof v === 'object' && v !== null) {
      if (path.length >= MAX_SPEC_DEPTH) {
        out.push({ field: formatPath(path, prefix), message: `must not be nested more than ${MAX_SPEC_DEPTH} levels deep` });
        return;
      }
      if (Array.isArray(v)) {
        v.forEach((item, i) => walk(item, [...path, i]));
        return;
      }
      for (const [k, item] of Object.entries(v)) {
        const p = textProblem(k);
        if (p) out.push({ field: formatPath([...path, k], prefix), message: `key ${p}` });
        walk(item, [...path, k]);
      }
    }
  };
  walk(value, []);
  return out;
}

/** Validates a spec alone against its descriptor; field paths start with `spec.` for spec-shaped types. */
export function validateSpec(desc: ResourceDescriptor, spec: unknown): Result<Record<string, unknown>> {
  const prefix = desc.shape === 'spec' ? 'spec' : '';
  // Checked on the raw input as well as by the schema: free-form fields (z.unknown) pass anything through.
  const unstorable = storableViolations(spec, prefix);
  const parsed = desc.schema.safeParse(spec ?? {});
  if (parsed.success && unstorable.length === 0) return { ok: true, value: parsed.data };
  const all = (parsed.success ? [] : zodViolations(parsed.error, prefix)).map((v) => (desc.kumaFieldPath ? { ...v, field: desc.kumaFieldPath(v.field) } : v));
  // A section that must not be there is not looked into (as Kuma's validators return early): its own
  // problems would only bury the one that matters.
  const forbidden = all.filter((v) => v.message.startsWith('must not be defined')).map((v) => v.field);
  const violations = all.filter((v) => !forbidden.some((f) => v.field.startsWith(`${f}[`) || v.field.startsWith(`${f}.`)));
  // One message per field: the schema's, when it already refused that field.
  violations.push(...unstorable.filter((u) => !violations.some((v) => v.field === u.field)));
  return { ok: false, violations };
}

/**
 * Kuma decodes bodies leniently: a field its types do not have is dropped, not refused. Ursa does the same
 * for API writes, but names each dropped field so a typo is not lost silently (the REST answer carries them
 * as Kuma's `warnings`). Returns a copy of `spec` without the fields the schema does not know, and their
 * Kuma-style paths. Fields the schema reports as unknown are removed and the spec checked again, since a
 * refinement (run only once the rest is valid) may reveal more; other problems are left for validateSpec.
 * An explicit `null` the schema refuses is removed too (Kuma reads it as "not set"), without a warning.
 */
export function dropUnknownFields(desc: ResourceDescriptor, spec: unknown): { spec: unknown; dropped: string[] } {
  if (typeof spec !== 'object' || spec === null) return { spec, dropped: [] };
  const prefix = desc.shape === 'spec' ? 'spec' : '';
  let current: unknown;
  try {
    current = structuredClone(spec);
  } catch {
    return { spec, dropped: [] };
  }
  const dropped: string[] = [];
  for (let round = 0; round < 8; round++) {
    const parsed = desc.schema.safeParse(current);
    if (parsed.success) break;
    let removed = 0;
    for (const issue of parsed.error.issues) {
      if (issue.code !== 'unrecognized_keys') {
        // Kuma's decoder reads an explicit `null` as "not set": one the schema refuses is removed, silently.
        const last = issue.path[issue.path.length - 1];
        const parent = valueAt(current, issue.path.slice(0, -1));
        if (typeof last === 'string' && isObject(parent) && parent[last] === null) {
          delete parent[last];
          removed++;
        }
        continue;
      }
      const parent = valueAt(current, issue.path);
      if (!isObject(parent)) continue;
      for (const key of issue.keys) {
        if (!Object.hasOwn(parent, key)) continue;
        delete (parent as Record<string, unknown>)[key];
        removed++;
        const field = formatPath([...issue.path, key], prefix);
        dropped.push(desc.kumaFieldPath ? desc.kumaFieldPath(field) : field);
      }
    }
    if (removed === 0) break;
  }
  return { spec: current, dropped };
}

function valueAt(v: unknown, path: readonly PropertyKey[]): unknown {
  for (const seg of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[seg] : undefined;
  return v;
}
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The warning a write answers for each field dropped by dropUnknownFields. */
export const droppedFieldWarning = (field: string) => `unknown field ${JSON.stringify(field)} was dropped`;

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Kuma's deprecation warnings for a written resource (`Deprecations()`): a Mesh or Zone name (its display
 * name) that is not a DNS-1035 label, with the Kubernetes validation text Kuma quotes.
 */
export function deprecations(desc: ResourceDescriptor, name: string, labels: Readonly<Record<string, string>> = {}): string[] {
  if (!desc.warnNonDns1035Name) return [];
  const shown = labels['kuma.io/display-name'] ?? name;
  const errs: string[] = [];
  if (shown.length > 63) errs.push('must be no more than 63 characters');
  if (!DNS1035_LABEL.test(shown)) {
    errs.push(
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
  }
  if (errs.length === 0) return [];
  return [`Invalid ${desc.kind} resource name: '${shown}'. It does not conform to the DNS format (RFC 1035). This is deprecated. Errors: ${errs.join('; ')}`];
}

/** Kuma-style byte counts in messages: `1048576 bytes (1 MiB)`. */
export function formatBytes(n: number): string {
  return n >= 1024 * 1024 && n % (1024 * 1024) === 0 ? `${n} bytes (${n / (1024 * 1024)} MiB)` : `${n} bytes`;
}

/**
 * The violation of a resource larger than MAX_RESOURCE_BYTES as JSON, or undefined. Checked before any
 * other rule: every other check walks the whole value, and a value built from YAML aliases may be far
 * larger than the text it came from. Named on `labels` when they alone are too large, else on the spec.
 */
export function resourceSizeViolation(desc: ResourceDescriptor, r: { kind: unknown; mesh?: unknown; name: unknown; labels?: unknown; spec: unknown }): Violation | undefined {
  // Deeper than the depth limit is refused by the spec's own check, with its own message (a cycle too).
  const depth = MAX_SPEC_DEPTH + 2;
  if (jsonByteLength({ kind: r.kind, mesh: r.mesh, name: r.name, labels: r.labels, spec: r.spec }, MAX_RESOURCE_BYTES, depth) <= MAX_RESOURCE_BYTES) return undefined;
  const field = jsonByteLength(r.labels, MAX_RESOURCE_BYTES, depth) > MAX_RESOURCE_BYTES ? 'labels' : desc.shape === 'spec' ? 'spec' : '';
  return { field, message: `the resource must be at most ${formatBytes(MAX_RESOURCE_BYTES)} as JSON (YAML aliases expanded), and this one is larger` };
}

/**
 * Validates a whole resource: it is not larger than MAX_RESOURCE_BYTES, the kind is known, the name follows
 * Kuma's rules, the mesh is set exactly when the type is mesh-scoped, labels are well-formed, and the spec
 * matches the type's schema.
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
  const tooLarge = resourceSizeViolation(desc, input);
  if (tooLarge) return { ok: false, violations: [tooLarge] };
  const violations: Violation[] = [];
  const np = nameProblem(input.name);
  if (np) violations.push({ field: 'name', message: np });
  else if (desc.maxNameLength !== undefined && (input.name as string).length > desc.maxNameLength) violations.push({ field: 'name', message: `must not be longer than ${desc.maxNameLength} characters` });

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
  const value = { kind: desc.kind, mesh, name: input.name as string, labels, spec: spec.value };
  // What is stored is the schema's output (defaults filled in): bounded too.
  const stored = resourceSizeViolation(desc, value);
  if (stored) return { ok: false, violations: [stored] };
  return { ok: true, value };
}
