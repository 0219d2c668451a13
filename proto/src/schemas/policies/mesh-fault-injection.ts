/** MeshFaultInjection spec (Kuma v2.14 `pkg/plugins/policies/meshfaultinjection/api/v1alpha1`). */
import { z } from 'zod';
import {
  DEFINED,
  duration,
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

const conf = z.strictObject({
  http: z
    .array(
      z.strictObject({
        abort: z.strictObject({ httpStatus: httpStatus(), percentage: percentage() }).optional(),
        delay: z.strictObject({ value: duration(), percentage: percentage() }).optional(),
        responseBandwidth: z
          .strictObject({
            limit: z
              .string({ error: 'must be defined' })
              .min(1, { error: 'must be defined' })
              .regex(/^(\d*)\s?([GMk]+bps)$/, { error: 'must be in kbps/Mbps/Gbps units' }),
            percentage: percentage(),
          })
          .optional(),
      }),
    )
    .optional(),
});

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
