/** MeshRetry spec (Kuma v2.14 `pkg/plugins/policies/meshretry/api/v1alpha1`). */
import { z } from 'zod';
import {
  DEFINED,
  duration,
  EVEN_WITH_ISSUES,
  headerMatch,
  headerName,
  narrowSectionKinds,
  positiveDuration,
  positiveInt,
  requireSomeField,
  sectionNameOnlyForInbound,
  tags,
  targetRef,
  TO_KINDS,
  uint32,
} from '../common.js';

// Kuma allows MeshGateway and MeshHTTPRoute only for system-role policies; the role is not part of the spec.
const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'MeshHTTPRoute', 'Dataplane'] as const;

const HTTP_RETRY_ON = [
  '5xx', 'GatewayError', 'Reset', 'Retriable4xx', 'ConnectFailure', 'EnvoyRatelimited', 'RefusedStream', 'Http3PostConnectFailure',
  'HttpMethodConnect', 'HttpMethodDelete', 'HttpMethodGet', 'HttpMethodHead', 'HttpMethodOptions', 'HttpMethodPatch', 'HttpMethodPost',
  'HttpMethodPut', 'HttpMethodTrace',
];
/** Status codes Go's `http.StatusText` knows: Kuma accepts those as retryOn items ("503"). */
const KNOWN_STATUS = /^(10[0-3]|20[0-8]|226|30[0-57-8]|4(0[0-9]|1[0-8]|2[1-689]|31|51)|50[0-8]|51[01])$/;
const GRPC_RETRY_ON = ['Canceled', 'DeadlineExceeded', 'Internal', 'ResourceExhausted', 'Unavailable'] as const;

/** Kuma reads YAML into a string list, so `retryOn: [503]` is the item "503". */
const numberAsString = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : v);

const backOff = z
  .strictObject({ baseInterval: positiveDuration('must be greater than zero').optional(), maxInterval: duration().optional() })
  .superRefine(requireSomeField(['baseInterval', 'maxInterval'], 'must not be empty'));

const rateLimitedBackOff = z.strictObject({
  maxInterval: positiveDuration('must be greater than zero').optional(),
  resetHeaders: z.array(
    z.strictObject({ name: headerName(), format: z.enum(['Seconds', 'UnixTimestamp'], { error: 'must be one of: Seconds, UnixTimestamp' }) }),
    DEFINED,
  ),
});

const hostSelection = z
  .array(
    z.strictObject({
      predicate: z.enum(['OmitPreviousHosts', 'OmitHostsWithTags', 'OmitPreviousPriorities'], {
        error: (iss) => (iss.input === undefined ? 'must be defined' : `unknown predicate type '${String(iss.input)}'`),
      }),
      tags: tags().optional(),
      updateFrequency: z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }).optional(),
    }),
  )
  .superRefine((predicates, ctx) => {
    let prioritySet = false;
    predicates.forEach((p, i) => {
      if (p.predicate === 'OmitHostsWithTags' && p.tags === undefined) {
        ctx.addIssue({ code: 'custom', path: [i, 'tags'], message: 'must be defined' });
      }
      if (p.predicate === 'OmitPreviousPriorities') {
        if (prioritySet) ctx.addIssue({ code: 'custom', path: [i, 'predicate'], message: 'OmitPreviousPriorities must only be specified once' });
        if ((p.updateFrequency ?? 0) <= 0) ctx.addIssue({ code: 'custom', path: [i, 'updateFrequency'], message: 'must be defined and greater than zero' });
        prioritySet = true;
      }
    });
  });

const http = z
  .strictObject({
    numRetries: uint32().optional(),
    perTryTimeout: duration().optional(),
    backOff: backOff.optional(),
    rateLimitedBackOff: rateLimitedBackOff.optional(),
    retryOn: z
      .array(
        z.preprocess(
          numberAsString,
          z.string({ error: 'must be a string' }).refine((v) => HTTP_RETRY_ON.includes(v) || KNOWN_STATUS.test(v), {
            error: (iss) => `unknown item '${String(iss.input)}'`,
          }),
        ),
      )
      .optional(),
    retriableResponseHeaders: z.array(headerMatch()).optional(),
    retriableRequestHeaders: z.array(headerMatch()).optional(),
    hostSelection: hostSelection.optional(),
    hostSelectionMaxAttempts: uint32().optional(),
  })
  .superRefine(
    requireSomeField(
      ['numRetries', 'perTryTimeout', 'backOff', 'retryOn', 'retriableRequestHeaders', 'retriableResponseHeaders', 'rateLimitedBackOff', 'hostSelection'],
      'must not be empty',
    ),
  );

const grpc = z
  .strictObject({
    numRetries: uint32().optional(),
    perTryTimeout: duration().optional(),
    backOff: backOff.optional(),
    rateLimitedBackOff: rateLimitedBackOff.optional(),
    retryOn: z.array(z.preprocess(numberAsString, z.enum(GRPC_RETRY_ON, { error: (iss) => `unknown item '${String(iss.input)}'` }))).optional(),
  })
  .superRefine(requireSomeField(['numRetries', 'perTryTimeout', 'backOff', 'retryOn', 'rateLimitedBackOff'], 'must not be empty'));

// Kuma: tcp without maxConnectAttempt is "must not be empty".
const tcp = z.strictObject({ maxConnectAttempt: positiveInt().optional() }).superRefine(requireSomeField(['maxConnectAttempt'], 'must not be empty'));

const conf = z
  .strictObject({ tcp: tcp.optional(), http: http.optional(), grpc: grpc.optional() }, DEFINED)
  .superRefine(requireSomeField(['tcp', 'http', 'grpc'], "at least one of the 'tcp', 'http', 'grpc' must be specified"));

export const meshRetrySpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    to: z.array(z.strictObject({ targetRef: targetRef(TO_KINDS), default: conf })).optional(),
  })
  // Under a MeshGateway or MeshHTTPRoute only Mesh and MeshExternalService destinations.
  .superRefine(
    narrowSectionKinds('to', TO_KINDS, (top) => (top === 'MeshGateway' || top === 'MeshHTTPRoute' ? ['Mesh', 'MeshExternalService'] : undefined)),
    EVEN_WITH_ISSUES,
  )
  .superRefine(sectionNameOnlyForInbound([]), EVEN_WITH_ISSUES);

/**
 * Kuma's MeshRetry validator roots everything inside a `to[].default` at `default.conf` (its Go field), so its
 * violations read `spec.to[0].default.conf.http.backOff`; a missing `default` stays `spec.to[0].default`.
 */
export function meshRetryFieldPath(field: string): string {
  return field.replace(/^(spec\.to\[\d+\]\.default)(?=[.[])|^(spec\.to\[\d+\]\.default)$/, (_m, a: string | undefined, b: string | undefined) => `${a ?? b}.conf`);
}
