/** MeshTimeout spec (Kuma v2.14 `pkg/plugins/policies/meshtimeout/api/v1alpha1`). */
import { z } from 'zod';
import { duration, FROM_KINDS, match, positiveDuration, requireSomeSection, targetRef, TO_KINDS, TOP_LEVEL_KINDS } from '../common.js';

const conf = z.strictObject({
  // Kuma: "Cannot be set to 0".
  connectionTimeout: positiveDuration().optional(),
  idleTimeout: duration().optional(),
  http: z
    .strictObject({
      requestTimeout: duration().optional(),
      streamIdleTimeout: duration().optional(),
      maxStreamDuration: duration().optional(),
      maxConnectionDuration: duration().optional(),
      requestHeadersTimeout: duration().optional(),
    })
    .optional(),
});

export const meshTimeoutSpec = z
  .strictObject({
    targetRef: targetRef(TOP_LEVEL_KINDS).optional(),
    to: z.array(z.strictObject({ targetRef: targetRef(TO_KINDS), default: conf })).optional(),
    from: z.array(z.strictObject({ targetRef: targetRef(FROM_KINDS), default: conf })).optional(),
    // Inbound rules; `matches` narrows a rule to the selected clients (an empty match is an error).
    rules: z.array(z.strictObject({ matches: z.array(match({ requireSome: true })).optional(), default: conf })).optional(),
  })
  .superRefine(requireSomeSection(['to', 'from', 'rules']));
