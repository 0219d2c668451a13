/** MeshTrace spec (Kuma v2.14 `pkg/plugins/policies/meshtrace/api/v1alpha1`). */
import { z } from 'zod';
import { DEFINED, EVEN_WITH_ISSUES, openTelemetryTarget, sectionNameOnlyForInbound, targetRef } from '../common.js';

// Kuma allows MeshGateway only for system-role policies; the role is not part of the spec.
const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'] as const;

/** A loose govalidator `IsURL`: `[scheme://]host[:port][/path]`, no `_` in a host name (as Kuma refuses "not_valid_url"). */
const URL_LIKE = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?([/?#]\S*)?$/;

/** MeshTrace's sampling percentages, with Kuma's MeshTrace wording. */
const sampling = () =>
  z.union([z.number(), z.string()], { error: 'string is not a number' }).superRefine((v, ctx) => {
    const n = typeof v === 'number' ? v : /^-?[0-9]+(\.[0-9]+)?$/.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n)) ctx.addIssue({ code: 'custom', message: 'string is not a number' });
    else if (n < 0 || n > 100) ctx.addIssue({ code: 'custom', message: 'must be between 0 and 100' });
  });

/** Datadog agent address: `http://host:port` and nothing else (Kuma's `validateBackend`). */
function datadogUrlProblems(url: string): string[] {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^/?#:]*)(?::([^/?#]*))?([^?#]*)(\?[^#]*)?(#.*)?$/.exec(url);
  if (!m) return ['must be a valid url'];
  const [, scheme, user, , portText, path, query, fragment] = m;
  const problems: string[] = [];
  if (scheme !== 'http') problems.push('scheme must be http');
  if (!portText) problems.push('port must be defined');
  else if (!/^[0-9]+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) problems.push('port must be a valid (1-65535)');
  if (user !== undefined) problems.push('user must not be defined');
  if (path) problems.push('path must not be defined');
  if (query) problems.push('query must not be defined');
  if (fragment) problems.push('fragment must not be defined');
  return problems;
}

const BACKEND_FIELD = { Zipkin: 'zipkin', Datadog: 'datadog', OpenTelemetry: 'openTelemetry' } as const;
const backend = z
  .strictObject({
    type: z.enum(['Zipkin', 'Datadog', 'OpenTelemetry'], { error: 'must be one of: Zipkin, Datadog, OpenTelemetry' }),
    zipkin: z
      .strictObject({
        url: z
          .string({ error: (iss) => (iss.input === undefined ? 'must not be empty' : 'must be a string') })
          .min(1, { error: 'must not be empty' })
          .regex(URL_LIKE, { error: 'must be a valid url' }),
        traceId128bit: z.boolean({ error: 'must be a boolean' }).optional(),
        apiVersion: z.enum(['httpJson', 'httpProto'], { error: 'must be one of: httpJson, httpProto' }).optional(),
        sharedSpanContext: z.boolean({ error: 'must be a boolean' }).optional(),
      })
      .optional(),
    datadog: z
      .strictObject({
        url: z.string({ error: 'must be defined' }).superRefine((url, ctx) => {
          for (const message of datadogUrlProblems(url)) ctx.addIssue({ code: 'custom', message });
        }),
        splitService: z.boolean({ error: 'must be a boolean' }).optional(),
      })
      .optional(),
    openTelemetry: openTelemetryTarget({}).optional(),
  })
  .superRefine((b, ctx) => {
    const field = BACKEND_FIELD[b.type];
    if (b[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'must be defined' });
  });

const conf = z.strictObject(
  {
    // Envoy takes one tracing backend: zero or one entry.
    backends: z.array(backend, DEFINED).max(1, { error: 'must have zero or one backend defined' }),
    sampling: z
      .strictObject({ overall: sampling().optional(), client: sampling().optional(), random: sampling().optional() })
      .optional(),
    tags: z
      .array(
        z
          .strictObject({
            name: z.string({ error: (iss) => (iss.input === undefined ? 'must not be empty' : 'must be a string') }).min(1, { error: 'must not be empty' }),
            literal: z.string({ error: 'must be a string' }).optional(),
            header: z
              .strictObject({
                // Kuma does not check a header tag's name.
                name: z.string({ error: 'must be a string' }).optional(),
                default: z.string({ error: 'must be a string' }).optional(),
              })
              .optional(),
          })
          .superRefine((t, ctx) => {
            if ((t.header === undefined) === (t.literal === undefined)) {
              ctx.addIssue({ code: 'custom', path: [], message: 'tag must have only one type defined: header, literal' });
            }
          }),
      )
      .optional(),
  },
  DEFINED,
);

export const meshTraceSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    // A missing `default` is Kuma's empty one, whose `backends` "must be defined".
    default: conf.prefault({} as never),
  })
  .superRefine(sectionNameOnlyForInbound([]), EVEN_WITH_ISSUES);
