/**
 * Stored resources with their spec's own type (`SpecOf<K>`, from the descriptor table), for code that knows
 * which kind it reads.
 *
 * Narrowing a stored resource to its kind's type without parsing it again is sound: the only way into the
 * resources table is a `ResourceStore` write, which validates every resource against its kind's schema
 * (`validateResource` in `prepareOps`) and stores the schema's output, so a stored spec of kind K *is* a
 * `SpecOf<K>`. (A schema that later becomes stricter needs a data migration, as a database column would.)
 * Data that did not come out of the store, JSON from the wire, must go through `validateResource` instead.
 */
import type { ResourceKind, SpecOf } from '@ursa/proto';
import type { ListOptions, Resource, ResourceStore } from './resource-store.js';

/**
 * A stored resource of kind `K`: the kind as a literal type, the spec as its schema's output. Distributes
 * over a union of kinds (`TypedResource<PolicyKind>` is a union discriminated by `kind`).
 */
export type TypedResource<K extends ResourceKind> = K extends ResourceKind ? Omit<Resource, 'kind' | 'spec'> & { readonly kind: K; readonly spec: SpecOf<K> } : never;

/** The parts of a typed resource pure code reads (what a test builds without a database). */
export type TypedResourceLike<K extends ResourceKind> = K extends ResourceKind
  ? { readonly kind: K; readonly mesh: string; readonly name: string; readonly labels: Readonly<Record<string, string>>; readonly spec: SpecOf<K> }
  : never;

/** A resource whose spec has not been narrowed yet. */
export interface UntypedResourceLike {
  readonly kind: string;
  readonly mesh: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: Readonly<Record<string, unknown>>;
}

/**
 * `r` as a resource of `kind`, without parsing it again; throws when it is of another kind (a programming
 * error, not bad data). For stored resources and for `validateResource` output only (see the file comment).
 */
export function asTyped<K extends ResourceKind>(kind: K, r: Resource): TypedResource<K>;
export function asTyped<K extends ResourceKind>(kind: K, r: UntypedResourceLike): TypedResourceLike<K>;
export function asTyped(kind: ResourceKind, r: UntypedResourceLike): unknown {
  if (r.kind !== kind) throw new TypeError(`expected a ${kind}, got a ${r.kind}`);
  // Sound because the spec was validated against this kind's schema on write (see the file comment).
  return r;
}

/** The resources of `kinds` in a list, typed (the others are left out). */
export function ofKinds<K extends ResourceKind>(kinds: readonly K[], list: readonly Resource[]): TypedResource<K>[] {
  const wanted = new Set<string>(kinds);
  return list.filter((r) => wanted.has(r.kind)).map((r) => asTyped(r.kind as K, r));
}

/** `store.get` for a known kind. */
export async function getTyped<K extends ResourceKind>(
  store: Pick<ResourceStore, 'get'>,
  tenant: string,
  kind: K,
  key: { mesh?: string; name: string },
): Promise<TypedResource<K> | undefined> {
  const r = await store.get(tenant, { kind, ...key });
  return r && asTyped(kind, r);
}

/** `store.list` for a known kind. */
export async function listTyped<K extends ResourceKind>(
  store: Pick<ResourceStore, 'list'>,
  tenant: string,
  kind: K,
  opts: ListOptions = {},
): Promise<{ items: TypedResource<K>[]; total: number }> {
  const { items, total } = await store.list(tenant, kind, opts);
  return { items: items.map((r) => asTyped(kind, r)), total };
}
