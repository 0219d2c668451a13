/**
 * The typed resources the zone agent's derived views read (xDS generation, the resolver, the ingress
 * bookkeeping), and `ResourcesByKind`, the local store's resources grouped by kind with each kind's spec
 * type. Everything here was read from the local store, whose writes validate every spec, so narrowing by
 * kind (`asTyped`) is all the checking they need.
 */
import { asTyped, ofKinds, type Resource, type TypedResource, type TypedResourceLike } from '@ursa/core';
import { POLICY_KINDS, type PolicyKind, type ResourceKind } from '@ursa/proto';

export type MeshResource = TypedResourceLike<'Mesh'>;
export type ZoneIngressResource = TypedResourceLike<'ZoneIngress'>;
export type ZoneEgressResource = TypedResourceLike<'ZoneEgress'>;
export type MeshExternalServiceResource = TypedResourceLike<'MeshExternalService'>;
export type SecretResource = TypedResourceLike<'Secret'>;
/** Any targetRef policy, discriminated by `kind`. */
export type PolicyResource = TypedResourceLike<PolicyKind>;

export class ResourcesByKind {
  constructor(private readonly byKind: ReadonlyMap<string, readonly Resource[]>) {}

  /** The resources of `kind`, typed; undefined when `kind` was not read. */
  get<K extends ResourceKind>(kind: K): TypedResource<K>[] | undefined {
    return this.byKind.get(kind)?.map((r) => asTyped(kind, r));
  }

  /** Whether `kind` was read. */
  has(kind: string): boolean {
    return this.byKind.has(kind);
  }

  /** Every policy resource read (any policy kind, any mesh). */
  policies(): TypedResource<PolicyKind>[] {
    return ofKinds(POLICY_KINDS, POLICY_KINDS.flatMap((k) => this.byKind.get(k) ?? []));
  }
}
