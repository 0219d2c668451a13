/**
 * An immutable xDS snapshot: for each resource type, the resources by name, each with a content version
 * (go-control-plane `pkg/cache/v3/snapshot.go`). Versions come from `hash.ts`, so building the same config
 * twice gives equal snapshots, and `sameAs` lets the reconciler skip a `setSnapshot` that would change
 * nothing.
 *
 * `problems()` is go-control-plane's `Consistent()`: every ClusterLoadAssignment an EDS cluster names,
 * every RouteConfiguration a listener's HttpConnectionManager names over RDS and every Secret a TLS context
 * names over SDS must be in the snapshot, or a proxy would warm forever waiting for it.
 *
 * Sharing: a snapshot is a set of `TypeSet`s, and a `TypeSet` may be layered (`layeredTypeSet`: a shared
 * base, e.g. a mesh's outbound clusters, under a node's own resources) without copying either, so 2,000
 * sidecars of one mesh hold references to one set of outbound resources instead of 2,000 copies.
 */
import { Cluster, Cluster_DiscoveryType } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import type { TransportSocket } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { Secret } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { DownstreamTlsContext, UpstreamTlsContext, type CommonTlsContext } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL, SECRET_TYPE_URL, type Any } from '@ursa/proto/xds';
import { encodeCanonical, versionOf, versionOfSet, type Codec } from './hash.js';
import { DOWNSTREAM_TLS_TYPE_URL, HCM_TYPE_URL, UPSTREAM_TLS_TYPE_URL } from './type-urls.js';


/**
 * The order updates are pushed in (make-before-break): clusters, then their endpoints, then listeners, then
 * their routes, so nothing a proxy receives refers to something it does not have yet. Secrets come last (as
 * Istio pushes them): a cluster or listener that names a new secret subscribes to it over SDS and warms
 * until it arrives, and a rotated certificate replaces the old one in place whatever the order.
 */
export const PUSH_ORDER: readonly string[] = [CLUSTER_TYPE_URL, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL, SECRET_TYPE_URL];

/** Short names for logs. */
export const TYPE_SHORT: Readonly<Record<string, string>> = {
  [CLUSTER_TYPE_URL]: 'CDS',
  [CLUSTER_LOAD_ASSIGNMENT_TYPE_URL]: 'EDS',
  [LISTENER_TYPE_URL]: 'LDS',
  [ROUTE_CONFIGURATION_TYPE_URL]: 'RDS',
  [SECRET_TYPE_URL]: 'SDS',
};
export const shortType = (typeUrl: string): string => TYPE_SHORT[typeUrl] ?? typeUrl.replace(/^type\.googleapis\.com\//, '');

export interface VersionedResource {
  readonly name: string;
  /** Content version of this one resource. */
  readonly version: string;
  /** The resource as it goes on the wire. */
  readonly body: Any;
}

export interface TypeSet {
  /** Version of the whole set (names and versions). */
  readonly version: string;
  /** By name, in name order. */
  readonly items: ReadonlyMap<string, VersionedResource>;
  /**
   * A layered set (`layeredTypeSet`) whose layers share no name: its resources are exactly theirs, so what is
   * derived from whole sets (a response's encoded resources, `encoded.ts`) can be taken from each layer.
   */
  readonly layers?: readonly [TypeSet, TypeSet];
}

export interface SnapshotInput {
  readonly clusters?: readonly Cluster[];
  readonly endpoints?: readonly ClusterLoadAssignment[];
  readonly listeners?: readonly Listener[];
  readonly routes?: readonly RouteConfiguration[];
  readonly secrets?: readonly Secret[];
}

/** A resource given already encoded (tests, and types this module has no codec for). */
export interface EncodedResource {
  readonly name: string;
  readonly value: Uint8Array;
}

const EMPTY: TypeSet = Object.freeze({ version: versionOfSet([]), items: new Map() });

export class Snapshot {
  private constructor(private readonly byType: ReadonlyMap<string, TypeSet>) {
    Object.freeze(this);
  }

  static empty(): Snapshot {
    return new Snapshot(new Map());
  }

  /** A snapshot of ready-made sets (shared or layered ones included); types absent are empty. */
  static fromSets(sets: ReadonlyMap<string, TypeSet>): Snapshot {
    return new Snapshot(sets);
  }

  /** Builds a snapshot from typed resources; throws on a duplicate name within a type. */
  static build(input: SnapshotInput): Snapshot {
    const byType = new Map<string, TypeSet>();
    const add = <T>(typeUrl: string, codec: Codec<T>, list: readonly T[] | undefined, nameOf: (m: T) => string) => {
      byType.set(typeUrl, typeSet(typeUrl, (list ?? []).map((m) => ({ name: nameOf(m), value: encodeCanonical(codec, m) }))));
    };
    add(CLUSTER_TYPE_URL, Cluster, input.clusters, (c) => c.name);
    add(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, ClusterLoadAssignment, input.endpoints, (e) => e.clusterName);
    add(LISTENER_TYPE_URL, Listener, input.listeners, (l) => l.name);
    add(ROUTE_CONFIGURATION_TYPE_URL, RouteConfiguration, input.routes, (r) => r.name);
    if (input.secrets) add(SECRET_TYPE_URL, Secret, input.secrets, (r) => r.name);
    return new Snapshot(byType);
  }

  /** Builds a snapshot from encoded resources per type URL. */
  static fromEncoded(resources: Readonly<Record<string, readonly EncodedResource[]>>): Snapshot {
    const byType = new Map<string, TypeSet>();
    for (const [typeUrl, list] of Object.entries(resources)) byType.set(typeUrl, typeSet(typeUrl, list));
    return new Snapshot(byType);
  }

  /** The resources of a type (an empty set for a type the snapshot does not have). */
  get(typeUrl: string): TypeSet {
    return this.byType.get(typeUrl) ?? EMPTY;
  }

  /** True when both hold exactly the same resources. */
  sameAs(other: Snapshot | undefined): boolean {
    if (!other) return false;
    if (other === this) return true;
    const types = new Set([...this.byType.keys(), ...other.byType.keys()]);
    for (const t of types) if (this.get(t).version !== other.get(t).version) return false;
    return true;
  }

  /**
   * Missing references (an empty list when consistent). Decodes every cluster and listener: for tests and
   * diagnostics, not for the hot path.
   */
  problems(): string[] {
    const out: string[] = [];
    const eds = this.get(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL).items;
    const rds = this.get(ROUTE_CONFIGURATION_TYPE_URL).items;
    const sds = this.get(SECRET_TYPE_URL).items;
    for (const r of this.get(CLUSTER_TYPE_URL).items.values()) {
      const c = Cluster.decode(r.body.value);
      for (const name of edsNameOf(c)) if (!eds.has(name)) out.push(`cluster ${c.name}: no ClusterLoadAssignment ${name}`);
      for (const name of sdsNamesOf(c.transportSocket)) if (!sds.has(name)) out.push(`cluster ${c.name}: no Secret ${name}`);
    }
    for (const r of this.get(LISTENER_TYPE_URL).items.values()) {
      const l = Listener.decode(r.body.value);
      for (const name of rdsNamesOf(l)) if (!rds.has(name)) out.push(`listener: no RouteConfiguration ${name}`);
      for (const fc of l.filterChains) for (const name of sdsNamesOf(fc.transportSocket)) if (!sds.has(name)) out.push(`listener ${l.name}: no Secret ${name}`);
    }
    return out;
  }

  /** `type: count` per type, for logs. */
  summary(): string {
    return PUSH_ORDER.map((t) => `${shortType(t)} ${this.get(t).items.size}`).join(', ');
  }

  /** Types present, in push order first. */
  types(): string[] {
    return [...new Set([...PUSH_ORDER.filter((t) => this.byType.has(t)), ...this.byType.keys()])];
  }
}

/** A resource ready for the wire; `bytes` must be the canonical encoding (`encodeCanonical`). */
export function versionedResource(typeUrl: string, name: string, bytes: Buffer): VersionedResource {
  return Object.freeze({ name, version: versionOf(bytes), body: Object.freeze({ typeUrl, value: bytes }) });
}

/** A set of ready-made resources (not re-encoded); throws on a duplicate name. */
export function typeSetOf(typeUrl: string, resources: Iterable<VersionedResource>): TypeSet {
  const sorted = [...resources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const items = new Map<string, VersionedResource>();
  for (const r of sorted) {
    if (items.has(r.name)) throw new Error(`snapshot: two ${shortType(typeUrl)} resources named ${JSON.stringify(r.name)}`);
    items.set(r.name, r);
  }
  return Object.freeze({ version: versionOfSet([...items.values()].map((r) => [r.name, r.version] as const)), items });
}

export const emptyTypeSet = (): TypeSet => EMPTY;

/**
 * `top` over `base` without copying either (a name in both: `top`'s wins). The version is derived from the
 * two layers' versions, so it is computed in O(1); it changes whenever either layer does.
 */
export function layeredTypeSet(base: TypeSet, top: TypeSet): TypeSet {
  if (top.items.size === 0) return base;
  if (base.items.size === 0) return top;
  const items = new LayeredMap(base.items, top.items);
  const version = versionOfSet([['base', base.version], ['top', top.version]]);
  return Object.freeze(items.size === base.items.size + top.items.size ? { version, items, layers: [base, top] as const } : { version, items });
}

/** A read-only view of two name-ordered maps as one, in name order. */
class LayeredMap implements ReadonlyMap<string, VersionedResource> {
  readonly size: number;
  constructor(
    private readonly base: ReadonlyMap<string, VersionedResource>,
    private readonly top: ReadonlyMap<string, VersionedResource>,
  ) {
    let overlap = 0;
    for (const k of top.keys()) if (base.has(k)) overlap++;
    this.size = base.size + top.size - overlap;
  }
  get(key: string): VersionedResource | undefined {
    return this.top.get(key) ?? this.base.get(key);
  }
  has(key: string): boolean {
    return this.top.has(key) || this.base.has(key);
  }
  *entries(): MapIterator<[string, VersionedResource]> {
    // Both maps are in name order: merge them.
    const a = this.base.entries();
    const b = this.top.entries();
    let x = a.next();
    let y = b.next();
    for (;;) {
      if (x.done) {
        if (y.done) return;
        yield y.value;
        y = b.next();
      } else if (y.done || x.value[0] < y.value[0]) {
        yield x.value;
        x = a.next();
      } else {
        // Equal names: the top layer's resource stands for both.
        if (x.value[0] === y.value[0]) x = a.next();
        yield y.value;
        y = b.next();
      }
    }
  }
  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): MapIterator<VersionedResource> {
    for (const [, v] of this.entries()) yield v;
  }
  [Symbol.iterator](): MapIterator<[string, VersionedResource]> {
    return this.entries();
  }
  forEach(fn: (value: VersionedResource, key: string, map: ReadonlyMap<string, VersionedResource>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}

function typeSet(typeUrl: string, list: readonly EncodedResource[]): TypeSet {
  return typeSetOf(
    typeUrl,
    list.map(({ name, value }) => versionedResource(typeUrl, name, Buffer.isBuffer(value) ? value : Buffer.from(value))),
  );
}

function edsNameOf(c: Cluster): string[] {
  if (c.clusterDiscoveryType?.$case !== 'type' || c.clusterDiscoveryType.value !== Cluster_DiscoveryType.EDS) return [];
  return [c.edsClusterConfig?.serviceName || c.name];
}

function rdsNamesOf(l: Listener): string[] {
  const anys = [l.apiListener?.apiListener, ...l.filterChains.flatMap((fc) => fc.filters.map((f) => (f.configType?.$case === 'typedConfig' ? f.configType.value : undefined)))];
  return anys.flatMap((any) => {
    if (!any || any.typeUrl !== HCM_TYPE_URL) return [];
    const hcm = HttpConnectionManager.decode(any.value);
    return hcm.routeSpecifier?.$case === 'rds' ? [hcm.routeSpecifier.value.routeConfigName] : [];
  });
}

function sdsNamesOf(ts: TransportSocket | undefined): string[] {
  const any = ts?.configType?.$case === 'typedConfig' ? ts.configType.value : undefined;
  let common: CommonTlsContext | undefined;
  if (any?.typeUrl === UPSTREAM_TLS_TYPE_URL) common = UpstreamTlsContext.decode(any.value).commonTlsContext;
  else if (any?.typeUrl === DOWNSTREAM_TLS_TYPE_URL) common = DownstreamTlsContext.decode(any.value).commonTlsContext;
  if (!common) return [];
  const v = common.validationContextType;
  return [
    ...common.tlsCertificateSdsSecretConfigs.map((c) => c.name),
    ...(v?.$case === 'validationContextSdsSecretConfig' ? [v.value.name] : []),
    ...(v?.$case === 'combinedValidationContext' && v.value.validationContextSdsSecretConfig ? [v.value.validationContextSdsSecretConfig.name] : []),
  ];
}

const diffs = new WeakMap<TypeSet, WeakMap<TypeSet, readonly string[]>>();

/**
 * Names whose resource differs between two sets (changed, added or removed), in name order; `[]` for the
 * same object. Memoised per pair of set objects: proxies sharing a set (every sidecar of a mesh shares its
 * EDS set) share one diff, so a cache can answer each of them in O(changes) instead of O(resources).
 */
export function changedNames(prev: TypeSet, next: TypeSet): readonly string[] {
  if (prev === next || prev.version === next.version) return [];
  let byNext = diffs.get(prev);
  const hit = byNext?.get(next);
  if (hit) return hit;
  const out: string[] = [];
  for (const [name, r] of next.items) {
    const p = prev.items.get(name);
    if (p !== r && p?.version !== r.version) out.push(name);
  }
  for (const name of prev.items.keys()) if (!next.items.has(name)) out.push(name);
  out.sort();
  if (!byNext) diffs.set(prev, (byNext = new WeakMap()));
  byNext.set(next, out);
  return out;
}
