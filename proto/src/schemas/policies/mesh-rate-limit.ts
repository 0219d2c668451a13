/** MeshRateLimit spec (Kuma v2.14 `pkg/plugins/policies/meshratelimit/api/v1alpha1`). */
import { z } from 'zod';
import {
  DEFINED,
  duration,
  EVEN_WITH_ISSUES,
  exclusiveWithRules,
  forbidSection,
  headerValues,
  includesGateways,
  match,
  parseDurationMs,
  positiveInt,
  requireSomeField,
  sectionNameOnlyForInbound,
  targetRef,
} from '../common.js';

// Kuma allows MeshGateway and MeshHTTPRoute only for system-role policies; the role is not part of the spec.
const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'MeshHTTPRoute', 'Dataplane'] as const;
const GATEWAY_SCOPE =
  'must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to';

const rate = z.strictObject({
  num: positiveInt(),
  interval: duration().refine((v) => (parseDurationMs(v) ?? 0) > 50, { error: 'must be greater than: 50ms' }),
});
const bool = () => z.boolean({ error: 'must be a boolean' }).optional();

const local = z
  .strictObject(
    {
      http: z
        .strictObject({
          disabled: bool(),
          requestRate: rate.optional(),
          onRateLimit: z.strictObject({ status: positiveInt().optional(), headers: headerValues().optional() }).optional(),
        })
        .superRefine(requireSomeField(['disabled', 'requestRate', 'onRateLimit']))
        .optional(),
      tcp: z
        .strictObject({ disabled: bool(), connectionRate: rate.optional() })
        .superRefine(requireSomeField(['disabled', 'connectionRate']))
        .optional(),
    },
    DEFINED,
  )
  .superRefine(requireSomeField(['tcp', 'http']));

const conf = z.strictObject({ local }, DEFINED);

const rule = z
  .strictObject({ matches: z.array(match({ requireSome: true })).optional(), default: conf })
  .superRefine((r, ctx) => {
    // A TCP limit cannot depend on the client identity.
    if (r.matches?.some((m) => m.spiffeID !== undefined) && r.default.local.tcp !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['default', 'local', 'tcp'],
        message: "can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity",
      });
    }
  });

export const meshRateLimitSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    // Outbound limits exist only on gateways.
    to: z.array(z.strictObject({ targetRef: targetRef(['Mesh']), default: conf })).optional(),
    from: z.array(z.strictObject({ targetRef: targetRef(['Mesh']), default: conf })).optional(),
    rules: z.array(rule).optional(),
  })
  .superRefine(exclusiveWithRules(['to', 'from']), EVEN_WITH_ISSUES)
  .superRefine(forbidSection('rules', includesGateways), EVEN_WITH_ISSUES)
  .superRefine(forbidSection('from', includesGateways, GATEWAY_SCOPE), EVEN_WITH_ISSUES)
  .superRefine(forbidSection('to', (top) => !includesGateways(top)), EVEN_WITH_ISSUES)
  .superRefine(sectionNameOnlyForInbound(['from', 'rules']), EVEN_WITH_ISSUES);
