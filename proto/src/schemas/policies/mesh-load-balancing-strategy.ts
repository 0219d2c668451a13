/** MeshLoadBalancingStrategy spec (Kuma v2.14 `pkg/plugins/policies/meshloadbalancingstrategy/api/v1alpha1`). */
import { z } from 'zod';
import {
  decimalValue,
  duration,
  EVEN_WITH_ISSUES,
  intInRange,
  narrowSectionKinds,
  percentage,
  positiveInt,
  sectionNameOnlyForInbound,
  targetRef,
} from '../common.js';

const TOP_KINDS = ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'] as const;
const TO_KINDS = ['Mesh', 'MeshService', 'MeshMultiZoneService', 'MeshHTTPRoute'] as const;

const str = () => z.string({ error: 'must be a string' });
const bool = () => z.boolean({ error: 'must be a boolean' }).optional();

const HASH_TYPES = ['Header', 'Cookie', 'Connection', 'SourceIP', 'QueryParameter', 'FilterState'] as const;
// Kuma reads `connection` for both Connection and SourceIP.
const HASH_FIELD = { Header: 'header', Cookie: 'cookie', Connection: 'connection', SourceIP: 'connection', QueryParameter: 'queryParameter', FilterState: 'filterState' } as const;
const hashPolicies = z.array(
  z
    .strictObject({
      type: z.enum(HASH_TYPES, { error: `must be one of: ${HASH_TYPES.join(', ')}` }),
      terminal: bool(),
      header: z.strictObject({ name: str().min(1, { error: 'must not be empty' }) }).optional(),
      cookie: z
        .strictObject({
          name: str().min(1, { error: 'must not be empty' }),
          path: str().startsWith('/', { error: 'must be an absolute path' }).optional(),
          ttl: duration().optional(),
        })
        .optional(),
      connection: z.strictObject({ sourceIP: bool() }).optional(),
      queryParameter: z.strictObject({ name: str().min(1, { error: 'must not be empty' }) }).optional(),
      filterState: z.strictObject({ key: str().min(1, { error: 'must not be empty' }) }).optional(),
    })
    .superRefine((p, ctx) => {
      const field = HASH_FIELD[p.type];
      if (p[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'must be defined' });
    }),
);

const LB_TYPES = ['RoundRobin', 'LeastRequest', 'RingHash', 'Random', 'Maglev'] as const;
const loadBalancer = z.strictObject({
  type: z.enum(LB_TYPES, { error: `must be one of: ${LB_TYPES.join(', ')}` }),
  roundRobin: z.strictObject({}).optional(),
  random: z.strictObject({}).optional(),
  leastRequest: z
    .strictObject({
      activeRequestBias: z
        .union([z.number(), z.string()], { error: 'must be a number or a decimal string' })
        .superRefine((v, ctx) => {
          const n = decimalValue(v);
          if (n === undefined) ctx.addIssue({ code: 'custom', message: 'string must be a valid number' });
          else if (n < 0) ctx.addIssue({ code: 'custom', message: 'must be greater or equal then: 0' });
        })
        .optional(),
      choiceCount: intInRange(2, 2147483647, 'must be at least 2').optional(),
    })
    .optional(),
  ringHash: z
    .strictObject({
      hashFunction: z.enum(['XXHash', 'MurmurHash2'], { error: 'must be one of: XXHash, MurmurHash2' }).optional(),
      minRingSize: intInRange(1, 8000000).optional(),
      maxRingSize: intInRange(1, 8000000).optional(),
      hashPolicies: hashPolicies.optional(),
    })
    .optional(),
  maglev: z.strictObject({ tableSize: intInRange(1, 5000011).optional(), hashPolicies: hashPolicies.optional() }).optional(),
});

const FAILOVER_TYPES = ['None', 'Only', 'Any', 'AnyExcept'] as const;
const failover = z
  .strictObject({
    from: z.strictObject({ zones: z.array(str().min(1, { error: 'must not be empty' })).min(1, { error: 'must not be empty' }) }).optional(),
    to: z.strictObject({
      type: z.enum(FAILOVER_TYPES, { error: `must be one of: ${FAILOVER_TYPES.join(', ')}` }),
      zones: z.array(str()).optional(),
    }),
  })
  .superRefine((f, ctx) => {
    const zones = f.to.zones?.length ?? 0;
    if ((f.to.type === 'Any' || f.to.type === 'None') && zones > 0) {
      ctx.addIssue({ code: 'custom', path: ['to', 'zones'], message: `must be empty when type is ${f.to.type}` });
    }
    if ((f.to.type === 'Only' || f.to.type === 'AnyExcept') && zones === 0) {
      ctx.addIssue({ code: 'custom', path: ['to', 'zones'], message: `must not be empty when type is ${f.to.type}` });
    }
  });

const localityAwareness = z.strictObject({
  disabled: bool(),
  localZone: z
    .strictObject({
      affinityTags: z
        .array(z.strictObject({ key: str().min(1, { error: 'must not be empty' }), weight: positiveInt().optional() }))
        .superRefine((tags, ctx) => {
          const weighted = tags.filter((t) => t.weight !== undefined).length;
          if (weighted > 0 && weighted !== tags.length) ctx.addIssue({ code: 'custom', message: 'all or none affinity tags should have weight' });
        })
        .optional(),
    })
    .optional(),
  crossZone: z
    .strictObject({
      failover: z.array(failover).optional(),
      failoverThreshold: z
        .strictObject({
          percentage: percentage().refine((v) => decimalValue(v) !== 0, { error: 'must be greater than 0' }),
        })
        .optional(),
    })
    .optional(),
});

const conf = z
  .strictObject({
    localityAwareness: localityAwareness.optional(),
    loadBalancer: loadBalancer.optional(),
    hashPolicies: hashPolicies.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.hashPolicies === undefined) return;
    for (const lb of ['ringHash', 'maglev'] as const) {
      if (c.loadBalancer?.[lb]?.hashPolicies !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['loadBalancer', lb, 'hashPolicies'], message: 'hashPolicies already specified in the root level' });
      }
    }
  });

const to = z
  .strictObject({ targetRef: targetRef(TO_KINDS), default: conf.optional() })
  .superRefine((item, ctx) => {
    const ref = item.targetRef;
    if (ref.kind === 'MeshHTTPRoute') {
      // A route can only choose hash policies.
      for (const field of ['loadBalancer', 'localityAwareness'] as const) {
        if (item.default?.[field] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['default', field],
            message: 'field is not allowed when targetRef.kind is MeshHTTPRoute, only hashPolicies is supported',
          });
        }
      }
    } else if (
      item.default?.localityAwareness?.crossZone !== undefined &&
      ref.kind === 'MeshService' &&
      (ref.sectionName || Object.keys(ref.labels ?? {}).length > 0)
    ) {
      ctx.addIssue({ code: 'custom', path: ['default', 'localityAwareness', 'crossZone'], message: 'must not be set: MeshService traffic is local' });
    }
  });

export const meshLoadBalancingStrategySpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    to: z.array(to).optional(),
  })
  // Under a MeshGateway: no MeshHTTPRoute destinations, and only Mesh when a loadBalancer is set.
  .superRefine(
    narrowSectionKinds('to', TO_KINDS, (top, item) => {
      if (top !== 'MeshGateway') return undefined;
      const lb = (item.default as { loadBalancer?: unknown } | undefined)?.loadBalancer;
      return lb !== undefined ? ['Mesh'] : ['Mesh', 'MeshService', 'MeshMultiZoneService'];
    }, (top, item) =>
      // Kuma names the top-level kind here (`validator.go`).
      (item.default as { loadBalancer?: unknown } | undefined)?.loadBalancer !== undefined ? `value '${top}' is not supported, only Mesh is allowed if loadBalancer is set` : undefined,
    ),
    EVEN_WITH_ISSUES,
  )
  .superRefine(sectionNameOnlyForInbound([]), EVEN_WITH_ISSUES);
