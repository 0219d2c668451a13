/** MeshAccessLog spec (Kuma v2.14 `pkg/plugins/policies/meshaccesslog/api/v1alpha1`). */
import { z } from 'zod';
import {
  DEFINED,
  EVEN_WITH_ISSUES,
  exclusiveWithRules,
  match,
  narrowSectionKinds,
  openTelemetryTarget,
  requireSomeSection,
  sectionNameOnlyForInbound,
  targetRef,
  TO_KINDS,
} from '../common.js';

const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'] as const;

/** govalidator `IsFilePath`: an absolute Unix path or a Windows drive path. */
const FILE_PATH = /^((\/[^/\x00]*)+\/?|[a-zA-Z]:\\(?:[^\\/:*?"<>|\r\n]+\\)*[^\\/:*?"<>|\r\n]*)$/;
/**
 * A loose govalidator `IsURL`: `[scheme://]host[:port][/path]`, as in "logstash:5000" or "127.0.0.1:5000"; no
 * `_` in a host name ("not_valid_url" is refused, as Kuma does).
 */
const ADDRESS = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?([/?#]\S*)?$/;

/** Kuma's check of a JSON format pair: the text `{"<key>": <value>}` must parse (a `"` in the key breaks it). */
function isJsonPair(key: string, value: string): boolean {
  try {
    JSON.parse(`{"${key}": "${value}"}`);
    return true;
  } catch {
    return false;
  }
}
const OTEL_ATTRIBUTE = /^[a-z](?:[a-z0-9]|[._][a-z0-9])*$/;

const format = z
  .strictObject({
    type: z.enum(['Plain', 'Json'], { error: 'must be one of: Plain, Json' }),
    plain: z.string({ error: 'must be a string' }).optional(),
    json: z
      .array(
        z.strictObject({
          key: z.string({ error: (iss) => (iss.input === undefined ? 'key cannot be empty' : 'must be a string') }).min(1, { error: 'key cannot be empty' }),
          value: z.string({ error: (iss) => (iss.input === undefined ? 'value cannot be empty' : 'must be a string') }).min(1, { error: 'value cannot be empty' }),
        }).superRefine((kv, ctx) => {
          // Kuma writes each pair as `{"<key>": <value>}` and checks that this is JSON.
          if (!isJsonPair(kv.key, kv.value)) ctx.addIssue({ code: 'custom', path: [], message: 'is not a valid JSON object' });
        }),
      )
      .optional(),
    omitEmptyValues: z.boolean({ error: 'must be a boolean' }).optional(),
  })
  .superRefine((f, ctx) => {
    const field = f.type === 'Plain' ? 'plain' : 'json';
    const value = f[field];
    if (value === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'must be defined' });
    else if (value.length === 0) ctx.addIssue({ code: 'custom', path: [field], message: 'must not be empty' });
  });

const attributeKey = z.string({ error: 'must be defined' }).superRefine((key, ctx) => {
  if (key === '') ctx.addIssue({ code: 'custom', message: 'must be defined' });
  else if (key.includes('%')) {
    ctx.addIssue({ code: 'custom', message: 'must be a static OpenTelemetry attribute name; placeholders are only supported in values' });
  } else if (key.startsWith('otel.')) ctx.addIssue({ code: 'custom', message: "must not use the reserved OpenTelemetry prefix 'otel.'" });
  else if (!OTEL_ATTRIBUTE.test(key)) {
    ctx.addIssue({
      code: 'custom',
      message: "must start with a lowercase letter, use only lowercase letters, digits, '.' or '_', avoid consecutive delimiters, and end with a letter or digit",
    });
  }
});

const BACKEND_FIELD = { Tcp: 'tcp', File: 'file', OpenTelemetry: 'openTelemetry' } as const;
const backend = z
  .strictObject({
    type: z.enum(['Tcp', 'File', 'OpenTelemetry'], { error: 'must be one of: Tcp, File, OpenTelemetry' }),
    tcp: z
      .strictObject({
        format: format.optional(),
        address: z.string({ error: (iss) => (iss.input === undefined ? 'tcp backend requires valid address' : 'must be a string') }).regex(ADDRESS, { error: 'tcp backend requires valid address' }),
      })
      .optional(),
    file: z
      .strictObject({
        format: format.optional(),
        path: z.string({ error: (iss) => (iss.input === undefined ? 'file backend requires a valid path' : 'must be a string') }).regex(FILE_PATH, { error: 'file backend requires a valid path' }),
      })
      .optional(),
    openTelemetry: openTelemetryTarget({
      attributes: z.array(z.strictObject({ key: attributeKey, value: z.string({ error: 'must be a string' }) })).optional(),
      // An OTLP AnyValue: a string or any JSON.
      body: z.unknown().optional(),
    }).optional(),
  })
  .superRefine((b, ctx) => {
    const field = BACKEND_FIELD[b.type];
    if (b[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'must be defined' });
  });

// A missing `default` is Kuma's empty one, whose `backends` "must be defined".
const conf = z.strictObject({ backends: z.array(backend, DEFINED) }, DEFINED).prefault({} as never);

export const meshAccessLogSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    to: z.array(z.strictObject({ targetRef: targetRef(TO_KINDS), default: conf })).optional(),
    from: z.array(z.strictObject({ targetRef: targetRef(['Mesh']), default: conf })).optional(),
    rules: z.array(z.strictObject({ matches: z.array(match()).optional(), default: conf })).optional(),
  })
  .superRefine(requireSomeSection(['to', 'from', 'rules']), EVEN_WITH_ISSUES)
  .superRefine(exclusiveWithRules(['to', 'from']), EVEN_WITH_ISSUES)
  // Under a MeshGateway only `Mesh` destinations.
  .superRefine(narrowSectionKinds('to', TO_KINDS, (top) => (top === 'MeshGateway' ? ['Mesh'] : undefined)), EVEN_WITH_ISSUES)
  .superRefine(sectionNameOnlyForInbound(['from', 'rules']), EVEN_WITH_ISSUES);
