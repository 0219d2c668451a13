/** MeshHealthCheck spec (Kuma v2.14 `pkg/plugins/policies/meshhealthcheck/api/v1alpha1`). */
import { z } from 'zod';
import {
  DEFINED,
  EVEN_WITH_ISSUES,
  headerValues,
  httpStatus,
  percentage,
  positiveDuration,
  positiveInt,
  requireSomeField,
  sectionNameOnlyForInbound,
  targetRef,
  uintPercentage,
} from '../common.js';

const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'] as const;
const TO_KINDS = ['Mesh', 'MeshService', 'MeshExternalService', 'MeshMultiZoneService'] as const;

/** govalidator `IsFilePath`: an absolute Unix path or a Windows drive path. */
const FILE_PATH = /^((\/[^/\x00]*)+\/?|[a-zA-Z]:\\(?:[^\\/:*?"<>|\r\n]+\\)*[^\\/:*?"<>|\r\n]*)$/;
const bool = () => z.boolean({ error: 'must be a boolean' }).optional();

const conf = z
  .strictObject(
    {
      interval: positiveDuration().optional(),
      timeout: positiveDuration().optional(),
      unhealthyThreshold: positiveInt('must be greater than zero when defined').optional(),
      healthyThreshold: positiveInt('must be greater than zero when defined').optional(),
      initialJitter: positiveDuration().optional(),
      intervalJitter: positiveDuration().optional(),
      intervalJitterPercent: uintPercentage().optional(),
      healthyPanicThreshold: percentage().optional(),
      failTrafficOnPanic: bool(),
      eventLogPath: z.string({ error: 'must be a string' }).regex(FILE_PATH, { error: 'must be a valid path when defined' }).optional(),
      alwaysLogHealthCheckFailures: bool(),
      noTrafficInterval: positiveDuration().optional(),
      reuseConnection: bool(),
      http: z
        .strictObject({
          disabled: bool(),
          path: z.string({ error: 'must be a string' }).min(1, { error: 'must be defined' }).optional(),
          requestHeadersToAdd: headerValues().optional(),
          expectedStatuses: z.array(httpStatus()).optional(),
        })
        .optional(),
      tcp: z
        .strictObject({
          disabled: bool(),
          send: z.string({ error: 'must be a string' }).optional(),
          receive: z.array(z.string({ error: 'must be a string' })).optional(),
        })
        .optional(),
      grpc: z
        .strictObject({
          disabled: bool(),
          serviceName: z.string({ error: 'must be a string' }).optional(),
          authority: z.string({ error: 'must be a string' }).optional(),
        })
        .optional(),
    },
    DEFINED,
  )
  .superRefine(requireSomeField(['http', 'tcp', 'grpc']));

export const meshHealthCheckSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    to: z.array(z.strictObject({ targetRef: targetRef(TO_KINDS), default: conf })).optional(),
  })
  .superRefine(sectionNameOnlyForInbound([]), EVEN_WITH_ISSUES);
