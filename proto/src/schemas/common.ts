/**
 * Building blocks shared by every spec schema. Messages follow Kuma's validators where Kuma has one
 * ("must be defined", "must not be empty", ...) so users of kumactl see familiar text.
 */
import { z } from 'zod';

/** Go `time.Duration` / k8s `metav1.Duration` text: "5s", "1m30s", "100ms", "0". */
const DURATION = /^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$/;
export const duration = () =>
  z.string({ error: 'must be a duration string like "5s" or "1m30s"' }).regex(DURATION, {
    error: 'must be a duration string like "5s" or "1m30s"',
  });

/** Go `time.Duration` text with an optional sign: Kuma parses "-1s" and then says what is wrong with it. */
const SIGNED_DURATION = /^-?(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$/;
export const signedDuration = () =>
  z.string({ error: 'must be a duration string like "5s" or "1m30s"' }).regex(SIGNED_DURATION, { error: 'must be a duration string like "5s" or "1m30s"' });

const isZeroDuration = (v: string) => /^-?(0+(\.0+)?(ns|us|µs|ms|s|m|h)?)+$/.test(v);

/**
 * A duration that must be strictly positive. A negative one parses (as in Go) and gets Kuma's
 * `ValidateDurationGreaterThanZeroOrNil` message rather than a format error.
 */
export const positiveDuration = (message = 'must be greater than zero when defined') =>
  signedDuration().refine((v) => !v.startsWith('-') && !isZeroDuration(v), { error: message });

/** A duration that must not be negative (Kuma `ValidateDurationNotNegative`). */
export const nonNegativeDuration = (message = 'must not be negative when defined') => signedDuration().refine((v) => !v.startsWith('-') || isZeroDuration(v), { error: message });

export const port = () =>
  z
    .number({ error: 'must be an integer port' })
    .int({ error: 'must be an integer port' })
    .min(1, { error: 'port must be in the range [1, 65535]' })
    .max(65535, { error: 'port must be in the range [1, 65535]' });

export const uint32 = () =>
  z
    .number({ error: 'must be a non-negative integer' })
    .int({ error: 'must be a non-negative integer' })
    .min(0, { error: 'must be a non-negative integer' })
    .max(4294967295, { error: 'must fit in 32 bits' });

/**
 * Kuma percentages are int-or-string ("50", 50, "12.5"); the value must be within [0, 100]. Kuma's texts
 * (`ValidatePercentage`): a string that is not a number, then the range.
 */
export const percentage = () =>
  z.union([z.number(), z.string()], { error: 'must be a number or a decimal string' }).superRefine((v, ctx) => {
    const n = typeof v === 'number' ? v : /^-?[0-9]+(\.[0-9]+)?$/.test(v.trim()) ? Number(v) : NaN;
    if (typeof v === 'string' && Number.isNaN(n)) ctx.addIssue({ code: 'custom', message: 'string must be a valid number' });
    else if (!(Number.isFinite(n) && n >= 0 && n <= 100)) ctx.addIssue({ code: 'custom', message: 'must be in inclusive range [0.0, 100.0]' });
  });

/** Label keys follow k8s qualified names: optional DNS prefix + "/" + name (≤ 63, alnum at both ends). */
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key "${key}": prefix must be a lowercase DNS subdomain of at most 253 characters`;
  }
  if (!LABEL_NAME.test(name)) {
    return `label key "${key}": name must be at most 63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric character`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    return `label value "${value}" must be at most 63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric character`;
  }
  return undefined;
}

/** `labels` meta field: string → string with k8s key/value rules. */
export const labels = () =>
  z.record(z.string(), z.string({ error: 'label values must be strings' })).superRefine((obj, ctx) => {
    for (const [k, v] of Object.entries(obj)) {
      const problem = labelKeyProblem(k) ?? labelValueProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [k] });
    }
  });

/** Free-form tag maps (Dataplane inbound tags, MeshSubset tags): keys and values non-empty strings. */
export const tags = () =>
  z.record(z.string(), z.string({ error: 'tag values must be strings' })).superRefine((obj, ctx) => {
    for (const [k, v] of Object.entries(obj)) {
      if (k === '') ctx.addIssue({ code: 'custom', message: 'tag name must not be empty', path: [k] });
      if (v === '') ctx.addIssue({ code: 'custom', message: 'tag value must not be empty', path: [k] });
    }
  });

/** Kinds a targetRef may name, in Kuma's specificity order (`kuma-multizone.md` §9.2). */
export const TARGET_REF_KINDS = [
  'Mesh',
  'Dataplane',
  'MeshSubset',
  'MeshGateway',
  'MeshService',
  'MeshExternalService',
  'MeshMultiZoneService',
  'MeshServiceSubset',
  'MeshHTTPRoute',
] as const;
export type TargetRefKind = (typeof TARGET_REF_KINDS)[number];

type RefField = 'name' | 'tags' | 'labels' | 'namespace' | 'sectionName';
/**
 * What each targetRef kind may carry. `identity` says how the referenced object is named:
 * `none` (Mesh: everything), `name` (must have a name), `name-or-labels` (one of them), `optional`.
 */
const TARGET_REF_RULES: Record<TargetRefKind, { forbid: readonly RefField[]; identity: 'none' | 'name' | 'name-or-labels' | 'optional' }> = {
  Mesh: { forbid: ['name', 'tags', 'labels', 'namespace', 'sectionName'], identity: 'none' },
  Dataplane: { forbid: ['tags'], identity: 'optional' },
  MeshSubset: { forbid: ['name', 'labels'], identity: 'none' },
  MeshGateway: { forbid: ['labels'], identity: 'name' },
  MeshService: { forbid: ['tags'], identity: 'name-or-labels' },
  MeshExternalService: { forbid: ['tags'], identity: 'name-or-labels' },
  MeshMultiZoneService: { forbid: ['tags'], identity: 'name-or-labels' },
  MeshServiceSubset: { forbid: ['labels'], identity: 'name' },
  MeshHTTPRoute: { forbid: ['tags', 'sectionName'], identity: 'name-or-labels' },
};

/**
 * A targetRef accepting only `allowed` kinds at this position. Field rules follow Kuma's
 * `pkg/plugins/policies/core/xds/targetref` validators: Mesh takes nothing else, named kinds need a name
 * (or labels where Kuma allows them), subset kinds need tags.
 */
export function targetRef(allowed: readonly TargetRefKind[]) {
  return z
    .strictObject({
      // Kuma's message names the value: `value 'BlahBlah' is not supported`.
      kind: z.enum(TARGET_REF_KINDS, { error: (iss) => (iss.input === undefined ? 'must be defined' : `value '${String(iss.input)}' is not supported`) }),
      name: z.string().optional(),
      namespace: z.string().optional(),
      mesh: z.string().optional(),
      tags: tags().optional(),
      labels: z.record(z.string(), z.string()).optional(),
      sectionName: z.string().optional(),
      proxyTypes: z.array(z.enum(['Sidecar', 'Gateway'], { error: 'must be one of: Sidecar, Gateway' })).optional(),
    })
    .superRefine((ref, ctx) => {
      if (!allowed.includes(ref.kind)) {
        ctx.addIssue({
          code: 'custom',
          path: ['kind'],
          message: `value '${ref.kind}' is not supported`,
        });
        return;
      }
      const rule = TARGET_REF_RULES[ref.kind];
      for (const field of rule.forbid) {
        if (ref[field] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [field], message: `must not be set with kind ${ref.kind}` });
        }
      }
      const hasName = ref.name !== undefined && ref.name !== '';
      const hasLabels = ref.labels !== undefined && Object.keys(ref.labels).length > 0;
      // Kuma's wording (`mesh.ValidateTargetRef`).
      if (rule.identity !== 'none' && hasName && hasLabels) {
        const message = ref.kind === 'MeshExternalService' ? 'either labels or name must be specified' : 'either labels or name and namespace must be specified';
        ctx.addIssue({ code: 'custom', path: ['labels'], message });
      } else if (rule.identity === 'name' && !hasName) {
        ctx.addIssue({ code: 'custom', path: ['name'], message: `must be set when kind is ${ref.kind}` });
      } else if (rule.identity === 'name-or-labels' && !hasName && !hasLabels) {
        ctx.addIssue({ code: 'custom', path: [], message: `name or labels must be set when kind is ${ref.kind}` });
      }
    });
}

/** A targetRef as validated and stored (the same shape for every policy kind and section). */
export type TargetRefSpec = z.output<ReturnType<typeof targetRef>>;

/** The top-level targetRef kinds most policies accept. */
export const TOP_LEVEL_KINDS = ['Mesh', 'MeshSubset', 'Dataplane', 'MeshService', 'MeshGateway'] as const satisfies readonly TargetRefKind[];
/** The destination kinds of `to[].targetRef` for most outbound policies. */
export const TO_KINDS = ['Mesh', 'MeshService', 'MeshExternalService', 'MeshMultiZoneService', 'MeshHTTPRoute'] as const satisfies readonly TargetRefKind[];
/** The client kinds of legacy `from[].targetRef`. */
export const FROM_KINDS = ['Mesh', 'MeshSubset', 'MeshService', 'MeshServiceSubset'] as const satisfies readonly TargetRefKind[];

/**
 * Kuma's rule for every targetRef policy: something must be configured.
 * Attach with `.superRefine(requireSomeSection(['to', 'from', 'rules']))`.
 */
const SECTION_ORDER = ['targetRef', 'from', 'to', 'rules', 'default'];

export function requireSomeSection(sections: readonly string[]) {
  return (spec: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const present = sections.some((s) => Array.isArray(spec[s]) && (spec[s] as unknown[]).length > 0);
    if (!present) {
      // Kuma's wording and order: "at least one of 'from', 'to' or 'rules' has to be defined".
      const names = [...sections].sort((a, b) => SECTION_ORDER.indexOf(a) - SECTION_ORDER.indexOf(b)).map((s) => `'${s}'`);
      const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names.join('');
      ctx.addIssue({ code: 'custom', path: [], message: `at least one of ${list} has to be defined` });
    }
  };
}

// ---------------------------------------------------------------------------------------------------------
// Helpers for the targetRef policy schemas (`schemas/policies/*`). Messages follow Kuma's validators.
// ---------------------------------------------------------------------------------------------------------

/** Error option for required fields: a missing value reads "must be defined"; other problems keep their text. */
export const DEFINED = {
  error: (iss: { input?: unknown }) => (iss.input === undefined ? 'must be defined' : undefined),
};

/**
 * Options for a spec-level `superRefine` that must run even when nested fields already failed, so that every
 * violation is reported at once. Such a refinement sees the raw input and must tolerate malformed values.
 * (zod still skips it after an explicit abort: a non-integer for `.int()` or a list over its `.max()`.)
 */
export const EVEN_WITH_ISSUES = { when: () => true };

/**
 * A JSON object (not null, not an array). For input that has not been validated yet (schemas, refinements)
 * and for free-form JSON (policy `default` blocks merged by JSON merge patch); validated specs are typed.
 */
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return isRecord(v) ? v : undefined;
}
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const nonEmptyArray = (v: unknown): boolean => Array.isArray(v) && v.length > 0;

const integer = () =>
  z.number({ error: (iss) => (iss.input === undefined ? 'must be defined' : 'must be an integer') }).int({ error: 'must be an integer' });

/** An integer in [min, max]; a missing value reads "must be defined". */
export const intInRange = (min: number, max: number, rangeMessage = `must be in inclusive range [${min}, ${max}]`) =>
  integer().min(min, { error: rangeMessage }).max(max, { error: rangeMessage });

/** Integer counts Kuma wants strictly positive (`ValidateIntegerGreaterThan(…, 0)`), within uint32. */
export const positiveInt = (message = 'must be greater than 0') =>
  integer().min(1, { error: message }).max(4294967295, { error: 'must fit in 32 bits' });

/** Whole-number percentages (`*uint32` / `*int32` in Kuma): [0, 100]. */
export const uintPercentage = () => intInRange(0, 100);

/** An HTTP status code (Kuma `ValidateStatusCode`). */
export const httpStatus = () => intInRange(100, 599);

/** Duration text → milliseconds (`undefined` when not a duration). */
export function parseDurationMs(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  if (text === '0') return 0;
  const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };
  let total = 0;
  for (const [, num, unit] of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(num) * (unitMs[unit!] ?? 0);
  return total;
}

/** Kuma int-or-string decimals (`NewDecimalFromIntOrString`): a number or a decimal string; `undefined` if neither. */
export function decimalValue(v: number | string): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  return /^-?[0-9]+(\.[0-9]+)?$/.test(v.trim()) ? Number(v) : undefined;
}

/** Gateway-API header names (lower case token characters). */
export const headerName = () =>
  z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(256, { error: 'must be at most 256 characters' })
    .regex(/^[a-z0-9!#$%&'*+\-.^_`|~]+$/, { error: 'must be a lower-case HTTP header name' });

const headerValue = () => z.strictObject({ name: headerName(), value: z.string({ error: 'must be a string' }) });
/** `{set?, add?}` header lists (at most 16 each), as in MeshRateLimit `onRateLimit.headers`. */
export const headerValues = () =>
  z.strictObject({
    set: z.array(headerValue()).max(16, { error: 'must have at most 16 items' }).optional(),
    add: z.array(headerValue()).max(16, { error: 'must have at most 16 items' }).optional(),
  });

/** Gateway-API `HeaderMatch`; `Present`/`Absent` take no value (MeshHTTPRoute `validateHeaders`). */
export const headerMatch = () =>
  z
    .strictObject({
      name: headerName(),
      type: z
        .enum(['Exact', 'Present', 'RegularExpression', 'Absent', 'Prefix'], {
          error: 'must be one of: Exact, Present, RegularExpression, Absent, Prefix',
        })
        .optional(),
      value: z.string({ error: 'must be a string' }).optional(),
    })
    .superRefine((h, ctx) => {
      if ((h.type === 'Present' || h.type === 'Absent') && h.value) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: 'must not be defined' });
      }
    });

/** Why go-spiffe `spiffeid.FromString` refuses an ID, in its words; undefined when it accepts it. */
export function spiffeIdProblem(id: string): string | undefined {
  if (id === '') return 'cannot be empty';
  if (!id.startsWith('spiffe://')) return 'scheme is missing or invalid';
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  if (!/^[a-z0-9._-]*$/.test(td)) return 'trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores';
  if (td === '') return 'trust domain is missing';
  if (slash < 0) return undefined;
  const segments = rest.slice(slash + 1).split('/');
  for (const [i, seg] of segments.entries()) {
    if (seg === '' && i === segments.length - 1) return 'path cannot have a trailing slash';
    if (seg === '') return 'path cannot contain empty segments';
    if (seg === '.' || seg === '..') return 'path cannot contain dot segments';
    if (!/^[A-Za-z0-9._-]+$/.test(seg)) return 'path segment characters are limited to letters, numbers, dots, dashes, and underscores';
  }
  return undefined;
}

/** Kubernetes `IsDNS1123Subdomain` messages, as Kuma reports them for an SNI. */
export function dns1123SubdomainProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push('must be no more than 253 characters');
  if (!DNS_SUBDOMAIN.test(v)) {
    out.push(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  }
  return out;
}

/** Kuma's `ValidateMatch` wording for a match `type`. */
const matchTypeProblem = (input: unknown, supported: string) =>
  input === undefined || input === '' ? 'must be set' : `unrecognized type ${JSON.stringify(String(input))}, supported values are: ${supported}`;

/**
 * Inbound `Match` (`rules[].matches[]`, MeshTrafficPermission allow/deny lists; Kuma `ValidateMatch`).
 * With `requireSome`, an empty match is an error, as in MeshTimeout/MeshRateLimit rules.
 */
export const match = (opts: { requireSome?: boolean } = {}) =>
  z
    .strictObject({
      sni: z
        .strictObject({
          type: z.enum(['Exact'], { error: (iss) => matchTypeProblem(iss.input, 'Exact') }),
          value: z
            .string({ error: 'must be set' })
            .superRefine((v, ctx) => {
              if (v === '') ctx.addIssue({ code: 'custom', message: 'must be set' });
              else for (const message of dns1123SubdomainProblems(v)) ctx.addIssue({ code: 'custom', message });
            }),
        })
        .optional(),
      spiffeID: z
        .strictObject({
          type: z.enum(['Exact', 'Prefix'], { error: (iss) => matchTypeProblem(iss.input, 'Exact, Prefix') }),
          value: z.string({ error: 'must be set' }),
        })
        .superRefine((id, ctx) => {
          // Kuma names the match's `spiffeID`, with go-spiffe's reason (whatever its `type`, hence EVEN_WITH_ISSUES).
          const value = (id as { value?: unknown }).value;
          const problem = typeof value === 'string' ? spiffeIdProblem(value) : undefined;
          if (problem) ctx.addIssue({ code: 'custom', path: [], message: `must be a valid Spiffe ID: ${problem}` });
        }, EVEN_WITH_ISSUES)
        .optional(),
    })
    .superRefine((m, ctx) => {
      if (opts.requireSome && m.sni === undefined && m.spiffeID === undefined) {
        ctx.addIssue({ code: 'custom', path: [], message: "must specify at least one of 'spiffeID' or 'sni'" });
      }
    });

/**
 * A route `backendRef`: a targetRef of the `allowed` kinds plus `weight` (≥ 0) and `port`
 * (Kuma `ValidateBackendRef`: a MeshMultiZoneService needs a port).
 */
export function backendRef(allowed: readonly TargetRefKind[]) {
  return targetRef(allowed)
    .safeExtend({ weight: uint32().optional(), port: port().optional() })
    .superRefine((ref, ctx) => {
      if (ref.kind === 'MeshMultiZoneService' && ref.port === undefined) {
        ctx.addIssue({ code: 'custom', path: ['port'], message: 'must be defined with kind MeshMultiZoneService' });
      }
    });
}

/** "At least one of these fields": Kuma's `MustHaveAtLeastOne` unless another message is given. */
export function requireSomeField(fields: readonly string[], message = `must have at least one defined: ${fields.join(', ')}`) {
  return (obj: object, ctx: z.RefinementCtx) => {
    const rec = obj as Record<string, unknown>;
    if (!fields.some((f) => rec[f] !== undefined)) ctx.addIssue({ code: 'custom', path: [], message });
  };
}

/**
 * A MeshOpenTelemetryBackend reference or a legacy `endpoint` (Kuma `ValidateOtelBackendRefOrEndpoint`):
 * exactly one of them; `extra` adds backend-specific fields.
 */
export function openTelemetryTarget<S extends z.ZodRawShape>(extra: S) {
  return z
    .strictObject({
      endpoint: z.string({ error: 'must be a string' }).optional(),
      backendRef: z
        .strictObject({
          kind: z.enum(['MeshOpenTelemetryBackend'], { error: 'must be one of: MeshOpenTelemetryBackend' }),
          labels: z.record(z.string(), z.string({ error: 'label values must be strings' })).optional(),
        })
        .superRefine((ref, ctx) => {
          if (!ref.labels || Object.keys(ref.labels).length === 0) {
            ctx.addIssue({ code: 'custom', path: [], message: 'backendRef must have exactly one defined: labels' });
          }
        })
        .optional(),
      ...extra,
    })
    .superRefine((o, ctx) => {
      const endpoint = (o as { endpoint?: string }).endpoint ?? '';
      const ref = (o as { backendRef?: unknown }).backendRef;
      if (endpoint !== '' && ref !== undefined) {
        ctx.addIssue({ code: 'custom', path: [], message: 'openTelemetry must have only one type defined: endpoint, backendRef' });
      } else if (endpoint === '' && ref === undefined) {
        ctx.addIssue({ code: 'custom', path: [], message: 'openTelemetry must have exactly one defined: endpoint, backendRef' });
      } else if (/[/?#]/.test(endpoint)) {
        ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'must be in host:port format, not a URL' });
      }
    });
}

/** The top-level targetRef of a raw spec (absent means Mesh); `undefined` when its kind is not a known kind. */
export function topLevelRef(spec: unknown): { kind: TargetRefKind; proxyTypes?: unknown; sectionName?: unknown } | undefined {
  const raw = asRecord(spec)?.targetRef;
  const ref = raw === undefined ? { kind: 'Mesh' } : asRecord(raw);
  return ref && TARGET_REF_KINDS.includes(ref.kind as TargetRefKind)
    ? { kind: ref.kind as TargetRefKind, proxyTypes: ref.proxyTypes, sectionName: ref.sectionName }
    : undefined;
}

/** Kuma `IncludesGateways`: MeshGateway, MeshHTTPRoute, or Mesh/MeshSubset not limited to Sidecar proxies. */
export function includesGateways(top: { kind: TargetRefKind; proxyTypes?: unknown }): boolean {
  if (top.kind === 'MeshGateway' || top.kind === 'MeshHTTPRoute') return true;
  if (top.kind !== 'Mesh' && top.kind !== 'MeshSubset') return false;
  const types = asArray(top.proxyTypes);
  return types.length === 0 || types.includes('Gateway');
}

/**
 * Kuma narrows the kinds a section's `targetRef` may name by the top-level targetRef (e.g. under a MeshGateway
 * `to[].targetRef` may only be Mesh). `narrow` returns the kinds allowed for one item, or `undefined` to keep
 * the item schema's `itemKinds`. Kinds the item schema already rejects are not reported twice.
 * Attach with `.superRefine(narrowSectionKinds(…), EVEN_WITH_ISSUES)`.
 */
export function narrowSectionKinds(
  section: string,
  itemKinds: readonly TargetRefKind[],
  narrow: (top: TargetRefKind, item: Record<string, unknown>) => readonly TargetRefKind[] | undefined,
  /** Kuma's own text for a refusal, where it has one; `value '<kind>' is not supported` otherwise. */
  message?: (top: TargetRefKind, item: Record<string, unknown>) => string | undefined,
) {
  return (spec: unknown, ctx: z.RefinementCtx) => {
    const top = topLevelRef(spec);
    if (!top) return;
    asArray(asRecord(spec)?.[section]).forEach((raw, i) => {
      const item = asRecord(raw);
      const kind = asRecord(item?.targetRef)?.kind as TargetRefKind;
      if (!item || !itemKinds.includes(kind)) return;
      const allowed = narrow(top.kind, item);
      if (allowed && !allowed.includes(kind)) {
        ctx.addIssue({
          code: 'custom',
          path: [section, i, 'targetRef', 'kind'],
          message: message?.(top.kind, item) ?? `value '${kind}' is not supported`,
        });
      }
    });
  };
}

/** A whole section that Kuma forbids for some top-level targetRefs. Attach with `EVEN_WITH_ISSUES`. */
export function forbidSection(
  section: string,
  forbidden: (top: { kind: TargetRefKind; proxyTypes?: unknown }) => boolean,
  message = 'must not be defined',
) {
  return (spec: unknown, ctx: z.RefinementCtx) => {
    const top = topLevelRef(spec);
    if (top && nonEmptyArray(asRecord(spec)?.[section]) && forbidden(top)) {
      ctx.addIssue({ code: 'custom', path: [section], message });
    }
  };
}

/** Kuma: `rules` replaces `to`/`from`; both at once is an error. Attach with `EVEN_WITH_ISSUES`. */
export function exclusiveWithRules(sections: readonly string[]) {
  const names = sections.map((s) => `'${s}'`).join(' and ');
  const message = `${sections.length > 1 ? 'fields' : 'field'} ${names} must be empty when 'rules' is defined`;
  return (spec: unknown, ctx: z.RefinementCtx) => {
    const s = asRecord(spec);
    if (s && nonEmptyArray(s.rules) && sections.some((k) => nonEmptyArray(s[k]))) {
      ctx.addIssue({ code: 'custom', path: [], message });
    }
  };
}

/**
 * Kuma: a top-level `Dataplane` targetRef may carry `sectionName` (one inbound) only when the policy configures
 * inbound traffic, i.e. one of `inboundSections` is set. Attach with `EVEN_WITH_ISSUES`.
 */
export function sectionNameOnlyForInbound(inboundSections: readonly string[]) {
  return (spec: unknown, ctx: z.RefinementCtx) => {
    const top = topLevelRef(spec);
    const s = asRecord(spec);
    if (top?.kind === 'Dataplane' && typeof top.sectionName === 'string' && top.sectionName !== '' && !inboundSections.some((k) => nonEmptyArray(s?.[k]))) {
      ctx.addIssue({ code: 'custom', path: ['targetRef', 'sectionName'], message: 'can only be used with inbound policies' });
    }
  };
}
