/** MeshCircuitBreaker spec (Kuma v2.14 `pkg/plugins/policies/meshcircuitbreaker/api/v1alpha1`). */
import { z } from 'zod';
import {
  DEFINED,
  decimalValue,
  EVEN_WITH_ISSUES,
  exclusiveWithRules,
  percentage,
  positiveDuration,
  positiveInt,
  requireSomeField,
  requireSomeSection,
  sectionNameOnlyForInbound,
  targetRef,
  uintPercentage,
} from '../common.js';

const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshService', 'MeshGateway', 'MeshServiceSubset', 'Dataplane'] as const;
const TO_KINDS = ['Mesh', 'MeshService', 'MeshExternalService', 'MeshMultiZoneService'] as const;

const consecutive = z.strictObject({ consecutive: positiveInt().optional() });

const detectors = z
  .strictObject(
    {
      totalFailures: consecutive.optional(),
      gatewayFailures: consecutive.optional(),
      localOriginFailures: consecutive.optional(),
      successRate: z
        .strictObject({
          minimumHosts: positiveInt().optional(),
          requestVolume: positiveInt().optional(),
          standardDeviationFactor: z
            .union([z.number(), z.string()], { error: 'must be a number or a decimal string' })
            .superRefine((v, ctx) => {
              const n = decimalValue(v);
              if (n === undefined) ctx.addIssue({ code: 'custom', message: 'invalid number' });
              else if (n <= 0) ctx.addIssue({ code: 'custom', message: 'must be greater than 0' });
            })
            .optional(),
        })
        .optional(),
      failurePercentage: z
        .strictObject({
          minimumHosts: positiveInt().optional(),
          requestVolume: positiveInt().optional(),
          threshold: uintPercentage().optional(),
        })
        .optional(),
    },
    DEFINED,
  )
  .superRefine(requireSomeField(['totalFailures', 'gatewayFailures', 'localOriginFailures', 'successRate', 'failurePercentage']));

const conf = z
  .strictObject(
    {
      connectionLimits: z
        .strictObject({
          maxConnections: positiveInt().optional(),
          maxConnectionPools: positiveInt().optional(),
          maxPendingRequests: positiveInt().optional(),
          maxRetries: positiveInt().optional(),
          maxRequests: positiveInt().optional(),
        })
        .optional(),
      outlierDetection: z
        .strictObject({
          disabled: z.boolean({ error: 'must be a boolean' }).optional(),
          interval: positiveDuration().optional(),
          baseEjectionTime: positiveDuration().optional(),
          maxEjectionPercent: uintPercentage().optional(),
          splitExternalAndLocalErrors: z.boolean({ error: 'must be a boolean' }).optional(),
          healthyPanicThreshold: percentage().optional(),
          // Kuma requires detectors whenever outlierDetection is present.
          detectors,
        })
        .optional(),
    },
    DEFINED,
  )
  .superRefine(requireSomeField(['connectionLimits', 'outlierDetection'], "at least one of: 'connectionLimits' or 'outlierDetection' should be configured"))
  // A missing `default` is Kuma's empty one, which configures nothing.
  .prefault({} as never);

export const meshCircuitBreakerSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    to: z.array(z.strictObject({ targetRef: targetRef(TO_KINDS), default: conf })).optional(),
    from: z.array(z.strictObject({ targetRef: targetRef(['Mesh']), default: conf })).optional(),
    rules: z.array(z.strictObject({ default: conf })).optional(),
  })
  .superRefine(requireSomeSection(['to', 'from', 'rules']), EVEN_WITH_ISSUES)
  .superRefine(exclusiveWithRules(['to', 'from']), EVEN_WITH_ISSUES)
  .superRefine(sectionNameOnlyForInbound(['from', 'rules']), EVEN_WITH_ISSUES);
