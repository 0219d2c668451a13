/** MeshTrafficPermission spec (Kuma v2.14 `pkg/plugins/policies/meshtrafficpermission/api/v1alpha1`). */
import { z } from 'zod';
import {
  DEFINED,
  EVEN_WITH_ISSUES,
  exclusiveWithRules,
  FROM_KINDS,
  match,
  requireSomeSection,
  sectionNameOnlyForInbound,
  targetRef,
} from '../common.js';

const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshService', 'MeshServiceSubset', 'Dataplane'] as const;

const matches = () => z.array(match()).optional();

export const meshTrafficPermissionSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    from: z
      .array(
        z.strictObject({
          targetRef: targetRef(FROM_KINDS),
          // Kuma reads a missing `default` as an empty one and names its `action` (`default.action: must be defined`).
          default: z.preprocess(
            (v) => (v === undefined ? {} : v),
            z.strictObject(
              {
                action: z.enum(['Allow', 'Deny', 'AllowWithShadowDeny'], { error: (iss) => (iss.input === undefined ? 'must be defined' : 'must be one of: Allow, Deny, AllowWithShadowDeny') }),
              },
              DEFINED,
            ),
          ),
        }),
      )
      .optional(),
    rules: z
      .array(
        z.strictObject({
          default: z
            .strictObject({ allow: matches(), deny: matches(), allowWithShadowDeny: matches() }, DEFINED)
            .superRefine((d, ctx) => {
              if (!d.allow?.length && !d.deny?.length && !d.allowWithShadowDeny?.length) {
                ctx.addIssue({ code: 'custom', path: [], message: "at least one of 'allow', 'allowWithShadowDeny', 'deny' has to be defined" });
              }
            }),
        }),
      )
      .optional(),
  })
  .superRefine(requireSomeSection(['from', 'rules']), EVEN_WITH_ISSUES)
  .superRefine(exclusiveWithRules(['from']), EVEN_WITH_ISSUES)
  .superRefine(sectionNameOnlyForInbound(['from', 'rules']), EVEN_WITH_ISSUES);

/** Kuma's MeshTrafficPermission validator names a rule's fields without `default` (`spec.rules[0].allow[0]`). */
export function meshTrafficPermissionFieldPath(field: string): string {
  return field.replace(/^spec\.rules\[(\d+)\]\.default(?=\.|\[|$)/, 'spec.rules[$1]');
}
