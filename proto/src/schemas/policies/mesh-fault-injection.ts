/** MeshFaultInjection spec (Kuma v2.14 `pkg/plugins/policies/meshfaultinjection/api/v1alpha1`). */
import { z } from 'zod';
import {
  DEFINED,
  nonNegativeDuration,
  EVEN_WITH_ISSUES,
  exclusiveWithRules,
  forbidSection,
  FROM_KINDS,
  httpStatus,
  includesGateways,
  match,
  percentage,
  sectionNameOnlyForInbound,
  targetRef,
} from '../common.js';

// Kuma allows MeshGateway only for system-role policies; the role is not part of the spec.
const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'] as const;

/**
 * A fault's fields are plain values in Kuma's Go types: a missing one is its zero value (percentage 0, delay
 * 0s, status 0), stored as such here. So an absent status reads as out of range, as in Kuma.
 */
const BANDWIDTH = /^(\d*)\s?([GMk]+bps)$/;
const conf = z.strictObject({
  http: z
    .array(
      z.strictObject({
        abort: z
          .strictObject({ httpStatus: httpStatus().default(0).pipe(httpStatus()), percentage: percentage().default(0) })
          .optional(),
        delay: z.strictObject({ value: nonNegativeDuration().default('0s'), percentage: percentage().default(0) }).optional(),
        responseBandwidth: z
          .strictObject({
            // Kuma's `ValidateBandwidth`; a number (YAML `1000`) is not in units either.
            limit: z
              .union([z.string(), z.number()], { error: 'must be defined' })
              .superRefine((v, ctx) => {
                if (v === '') ctx.addIssue({ code: 'custom', message: 'must be defined' });
                else if (typeof v !== 'string' || !BANDWIDTH.test(v)) ctx.addIssue({ code: 'custom', message: 'must be in kbps/Mbps/Gbps units' });
              })
              .transform((v) => String(v)),
            percentage: percentage().default(0),
          })
          .optional(),
      }),
    )
    .optional(),
});

/** Kuma's validator names a fault by its kind, then its index: `default.http.abort[0]`, not `default.http[0].abort`. */
export function meshFaultInjectionFieldPath(field: string): string {
  return field.replace(/\.default\.http\[(\d+)\]\.(abort|delay|responseBandwidth)(?=\.|$)/, '.default.http.$2[$1]');
}

export const meshFaultInjectionSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    // Outbound faults exist only on gateways.
    to: z.array(z.strictObject({ targetRef: targetRef(['Mesh']), default: conf.optional() })).optional(),
    from: z.array(z.strictObject({ targetRef: targetRef(FROM_KINDS), default: conf.optional() })).optional(),
    rules: z.array(z.strictObject({ matches: z.array(match()).optional(), default: z.strictObject(conf.shape, DEFINED) })).optional(),
  })
  .superRefine(exclusiveWithRules(['from']), EVEN_WITH_ISSUES)
  .superRefine(forbidSection('to', (top) => !includesGateways(top)), EVEN_WITH_ISSUES)
  .superRefine(
    forbidSection(
      'from',
      includesGateways,
      'must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to',
    ),
    EVEN_WITH_ISSUES,
  )
  .superRefine(sectionNameOnlyForInbound(['from', 'rules']), EVEN_WITH_ISSUES);
