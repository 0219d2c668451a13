/** MeshTCPRoute spec (Kuma v2.14 `pkg/plugins/policies/meshtcproute/api/v1alpha1`). */
import { z } from 'zod';
import { backendRef, DEFINED, EVEN_WITH_ISSUES, narrowSectionKinds, sectionNameOnlyForInbound, targetRef } from '../common.js';

// Kuma allows MeshGateway only for system-role policies; the role is not part of the spec.
const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'] as const;
const DESTINATION_KINDS = ['MeshService', 'MeshExternalService', 'MeshMultiZoneService'] as const;
const BACKEND_KINDS = ['MeshService', 'MeshServiceSubset', 'MeshExternalService', 'MeshMultiZoneService'] as const;

const rule = z.strictObject({
  default: z.strictObject(
    {
      backendRefs: z.array(backendRef(BACKEND_KINDS), DEFINED).min(1, { error: 'must be defined' }),
    },
    DEFINED,
  ),
});

export const meshTCPRouteSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    to: z
      .array(
        z.strictObject({
          targetRef: targetRef(['Mesh', ...DESTINATION_KINDS]),
          // Kuma accepts a destination without rules.
          rules: z.array(rule).max(1, { error: 'must have at most 1 item' }).optional(),
        }),
      )
      .min(1, { error: 'must not be empty' })
      .optional(),
  })
  // Under a MeshGateway the destination is `Mesh`; otherwise a service.
  .superRefine(
    narrowSectionKinds('to', ['Mesh', ...DESTINATION_KINDS], (top) => (top === 'MeshGateway' ? ['Mesh'] : DESTINATION_KINDS)),
    EVEN_WITH_ISSUES,
  )
  .superRefine(sectionNameOnlyForInbound([]), EVEN_WITH_ISSUES);
