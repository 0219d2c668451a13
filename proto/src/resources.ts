/**
 * THE resource table. Every resource type Ursa knows is described here exactly once; REST routes, KDS sync,
 * storage and validation all read this table and never branch on a kind themselves. To give one type
 * different behaviour, add a descriptor field.
 *
 * Directions and read-only rules follow Kuma v2.14 (`kuma-multizone.md` §2.1–2.2).
 */
import type { ResourceDescriptor, SpecSchema } from './descriptor.js';
import { dataplaneInsightSpec } from './schemas/core/dataplane-insight.js';
import { dataplaneSpec } from './schemas/core/dataplane.js';
import { globalSecretSpec } from './schemas/core/global-secret.js';
import { meshSpec } from './schemas/core/mesh.js';
import { secretSpec } from './schemas/core/secret.js';
import { zoneEgressInsightSpec } from './schemas/core/zone-egress-insight.js';
import { zoneEgressSpec } from './schemas/core/zone-egress.js';
import { zoneIngressInsightSpec } from './schemas/core/zone-ingress-insight.js';
import { zoneIngressSpec } from './schemas/core/zone-ingress.js';
import { zoneInsightSpec } from './schemas/core/zone-insight.js';
import { zoneSpec } from './schemas/core/zone.js';
import type { DescriptorOf, PolicyKind, ResourceKind } from './spec-types.js';
import { meshAccessLogSpec } from './schemas/policies/mesh-access-log.js';
import { meshCircuitBreakerSpec } from './schemas/policies/mesh-circuit-breaker.js';
import { meshFaultInjectionFieldPath, meshFaultInjectionSpec } from './schemas/policies/mesh-fault-injection.js';
import { meshHealthCheckSpec } from './schemas/policies/mesh-health-check.js';
import { meshHTTPRouteSpec } from './schemas/policies/mesh-http-route.js';
import { meshLoadBalancingStrategySpec } from './schemas/policies/mesh-load-balancing-strategy.js';
import { meshRateLimitSpec } from './schemas/policies/mesh-rate-limit.js';
import { meshRetryFieldPath, meshRetrySpec } from './schemas/policies/mesh-retry.js';
import { meshTCPRouteSpec } from './schemas/policies/mesh-tcp-route.js';
import { meshTimeoutSpec } from './schemas/policies/mesh-timeout.js';
import { meshTraceSpec } from './schemas/policies/mesh-trace.js';
import { meshTrafficPermissionFieldPath, meshTrafficPermissionSpec } from './schemas/policies/mesh-traffic-permission.js';
import { meshExternalServiceSpec } from './schemas/services/mesh-external-service.js';

type Defaulted = 'altPaths' | 'readOnly' | 'storage' | 'singularDisplayName' | 'pluralDisplayName' | 'tagPaths' | 'includeInFederation' | 'isMeshDefinition' | 'isZoneDefinition' | 'blocksMeshDeletion';
type Row<K extends string, S extends SpecSchema> = { kind: K; schema: S } & Omit<ResourceDescriptor, Defaulted | 'isPolicy' | 'shape' | 'kind' | 'schema'> &
  Partial<Pick<ResourceDescriptor, Defaulted>>;
/** A row of the table: its kind and schema keep their own types, and policies are marked as such in the type too. */
type Described<K extends string, S extends SpecSchema, P extends boolean> = ResourceDescriptor<K, S> & { readonly isPolicy: P };

/** Legacy (proto) types: meta and spec fields flattened into one JSON object. */
function legacy<K extends string, S extends SpecSchema>(row: Row<K, S>): Described<K, S, false> {
  return finish(row, 'flat', false);
}
/** targetRef policies: `{type, mesh, name, labels, spec}`, synced from the global to every zone. */
function policy<K extends string, S extends SpecSchema>(
  row: Omit<Row<K, S>, 'scope' | 'kds' | 'readOnlyOnGlobal'> & { policy: NonNullable<ResourceDescriptor['policy']> },
): Described<K, S, true> {
  return finish({ ...row, scope: 'mesh', kds: 'global-to-zones', readOnlyOnGlobal: false }, 'spec', true);
}
/** New-style mesh resources that are not policies (`{type, mesh, name, labels, spec}`), synced like policies. */
function meshSpecResource<K extends string, S extends SpecSchema>(row: Omit<Row<K, S>, 'scope' | 'kds' | 'readOnlyOnGlobal'>): Described<K, S, false> {
  return finish({ ...row, scope: 'mesh', kds: 'global-to-zones', readOnlyOnGlobal: false }, 'spec', false);
}
function finish<K extends string, S extends SpecSchema, P extends boolean>(row: Row<K, S>, shape: ResourceDescriptor['shape'], isPolicy: P): Described<K, S, P> {
  // "MeshHTTPRoute" -> "Mesh HTTP Route"
  const words = row.kind.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2');
  return Object.freeze({
    altPaths: [],
    readOnly: false,
    storage: 'feed',
    tagPaths: [],
    isMeshDefinition: false,
    isZoneDefinition: false,
    blocksMeshDeletion: false,
    // Kuma's federation profile carries what the global owns: not zone inventory, insights or zones.
    includeInFederation: row.kds === 'global-to-zones',
    singularDisplayName: words,
    pluralDisplayName: `${words}s`,
    ...row,
    shape,
    isPolicy,
  });
}

/**
 * The rows with their precise types (each kind's literal name and schema), from which `spec-types.ts`
 * derives `ResourceKind` and `SpecOf<K>`. Everything else reads `RESOURCES`.
 */
export const DESCRIPTORS = Object.freeze([
  legacy({ kind: 'Mesh', scope: 'global', path: 'meshes', kds: 'global-to-zones', readOnlyOnGlobal: false, isMeshDefinition: true, warnNonDns1035Name: true, shortName: 'm', pluralDisplayName: 'Meshes', schema: meshSpec }),
  legacy({ kind: 'Zone', scope: 'global', path: 'zones', kds: 'none', readOnlyOnGlobal: false, isZoneDefinition: true, warnNonDns1035Name: true, shortName: 'z', schema: zoneSpec }),
  legacy({ kind: 'ZoneInsight', scope: 'global', path: 'zone-insights', kds: 'none', readOnlyOnGlobal: true, readOnly: true, storage: 'status', shortName: '', insightOf: 'Zone', schema: zoneInsightSpec }),
  legacy({ kind: 'ZoneIngress', scope: 'global', path: 'zoneingresses', altPaths: ['zone-ingresses'], kds: 'zone-to-global-to-zones', readOnlyOnGlobal: true, shortName: 'zi', zoneField: 'zone', tagPaths: ['$.availableServices[*].tags'], pluralDisplayName: 'Zone Ingresses', schema: zoneIngressSpec }),
  legacy({ kind: 'ZoneIngressInsight', scope: 'global', path: 'zone-ingress-insights', kds: 'zone-to-global', readOnlyOnGlobal: true, readOnly: true, shortName: '', insightOf: 'ZoneIngress', schema: zoneIngressInsightSpec }),
  legacy({ kind: 'ZoneEgress', scope: 'global', path: 'zoneegresses', altPaths: ['zone-egresses'], kds: 'zone-to-global', readOnlyOnGlobal: true, shortName: 'ze', zoneField: 'zone', pluralDisplayName: 'Zone Egresses', schema: zoneEgressSpec }),
  legacy({ kind: 'ZoneEgressInsight', scope: 'global', path: 'zone-egress-insights', kds: 'zone-to-global', readOnlyOnGlobal: true, readOnly: true, shortName: '', insightOf: 'ZoneEgress', schema: zoneEgressInsightSpec }),
  legacy({ kind: 'Dataplane', scope: 'mesh', path: 'dataplanes', kds: 'zone-to-global', readOnlyOnGlobal: true, blocksMeshDeletion: true, shortName: 'dp', tagPaths: ['$.networking.inbound[*].tags', '$.networking.gateway.tags'], schema: dataplaneSpec }),
  legacy({ kind: 'DataplaneInsight', scope: 'mesh', path: 'dataplane-insights', kds: 'zone-to-global', readOnlyOnGlobal: true, readOnly: true, shortName: '', insightOf: 'Dataplane', schema: dataplaneInsightSpec }),
  legacy({ kind: 'Secret', scope: 'mesh', path: 'secrets', kds: 'global-to-zones', readOnlyOnGlobal: false, shortName: '', schema: secretSpec }),
  legacy({ kind: 'GlobalSecret', scope: 'global', path: 'global-secrets', altPaths: ['globalsecrets'], kds: 'global-to-zones', readOnlyOnGlobal: false, shortName: '', schema: globalSecretSpec }),
  meshSpecResource({ kind: 'MeshExternalService', path: 'meshexternalservices', shortName: 'mes', maxNameLength: 63, schema: meshExternalServiceSpec }),
  policy({ kind: 'MeshTrafficPermission', policy: { hasTo: false, hasFrom: true, hasRules: true }, path: 'meshtrafficpermissions', shortName: 'mtp', schema: meshTrafficPermissionSpec, kumaFieldPath: meshTrafficPermissionFieldPath }),
  policy({ kind: 'MeshTimeout', policy: { hasTo: true, hasFrom: true, hasRules: true }, path: 'meshtimeouts', shortName: 'mt', schema: meshTimeoutSpec }),
  policy({ kind: 'MeshRetry', policy: { hasTo: true, hasFrom: false, hasRules: false }, path: 'meshretries', shortName: 'mr', pluralDisplayName: 'Mesh Retries', schema: meshRetrySpec, kumaFieldPath: meshRetryFieldPath }),
  policy({ kind: 'MeshCircuitBreaker', policy: { hasTo: true, hasFrom: true, hasRules: true }, path: 'meshcircuitbreakers', shortName: 'mcb', schema: meshCircuitBreakerSpec }),
  policy({ kind: 'MeshHealthCheck', policy: { hasTo: true, hasFrom: false, hasRules: false }, path: 'meshhealthchecks', shortName: 'mhc', schema: meshHealthCheckSpec }),
  policy({ kind: 'MeshHTTPRoute', policy: { hasTo: true, hasFrom: false, hasRules: false }, path: 'meshhttproutes', shortName: 'mhttpr', schema: meshHTTPRouteSpec }),
  policy({ kind: 'MeshTCPRoute', policy: { hasTo: true, hasFrom: false, hasRules: false }, path: 'meshtcproutes', shortName: 'mtcpr', schema: meshTCPRouteSpec }),
  policy({ kind: 'MeshLoadBalancingStrategy', policy: { hasTo: true, hasFrom: false, hasRules: false }, path: 'meshloadbalancingstrategies', shortName: 'mlbs', pluralDisplayName: 'Mesh Load Balancing Strategies', schema: meshLoadBalancingStrategySpec }),
  policy({ kind: 'MeshFaultInjection', policy: { hasTo: true, hasFrom: true, hasRules: true }, path: 'meshfaultinjections', shortName: 'mfi', schema: meshFaultInjectionSpec, kumaFieldPath: meshFaultInjectionFieldPath }),
  policy({ kind: 'MeshRateLimit', policy: { hasTo: true, hasFrom: true, hasRules: true }, path: 'meshratelimits', shortName: 'mrl', schema: meshRateLimitSpec }),
  policy({ kind: 'MeshAccessLog', policy: { hasTo: true, hasFrom: true, hasRules: true }, path: 'meshaccesslogs', shortName: 'mal', schema: meshAccessLogSpec }),
  policy({ kind: 'MeshTrace', policy: { hasTo: false, hasFrom: false, hasRules: false }, path: 'meshtraces', shortName: 'mtr', schema: meshTraceSpec }),
] as const);

export const RESOURCES: readonly ResourceDescriptor[] = DESCRIPTORS;

const byKind = new Map<string, ResourceDescriptor>(RESOURCES.map((d) => [d.kind, d]));
const byPath = new Map(RESOURCES.flatMap((d) => [d.path, ...d.altPaths].map((p) => [p, d] as const)));

/** The descriptor of a kind; with a literal kind, that kind's own typed descriptor (never undefined). */
export function descriptorFor<K extends ResourceKind>(kind: K): DescriptorOf<K>;
export function descriptorFor(kind: string): ResourceDescriptor | undefined;
export function descriptorFor(kind: string): ResourceDescriptor | undefined {
  return byKind.get(kind);
}

/** The targetRef policy kinds, in table order. */
export const POLICY_KINDS: readonly PolicyKind[] = Object.freeze(DESCRIPTORS.filter((d): d is DescriptorOf<PolicyKind> => d.isPolicy).map((d) => d.kind));

/** True when `kind` names a type of the table. */
export function isResourceKind(kind: string): kind is ResourceKind {
  return byKind.has(kind);
}

export function descriptorForPath(path: string): ResourceDescriptor | undefined {
  return byPath.get(path);
}

export function kindsWhere(pred: (d: ResourceDescriptor) => boolean): ResourceDescriptor[] {
  return RESOURCES.filter(pred);
}

/** Kinds the global sends down to zones (own types and, for `zone-to-global-to-zones`, other zones' copies). */
export const sentToZones = () => kindsWhere((d) => d.kds === 'global-to-zones' || d.kds === 'zone-to-global-to-zones');
/** Kinds a zone sends up to the global. */
/** Kinds the store keeps apart from the change feed (`storage: 'status'`). */
export const statusKinds = () => kindsWhere((d) => d.storage === 'status');
export const sentToGlobal = () => kindsWhere((d) => d.kds === 'zone-to-global' || d.kds === 'zone-to-global-to-zones');
