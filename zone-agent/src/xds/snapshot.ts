/**
 * An immutable xDS snapshot: for each resource type, the resources by name, each with a content version
 * (go-control-plane `pkg/cache/v3/snapshot.go`). Versions come from `hash.ts`, so building the same config
 * twice gives equal snapshots, and `sameAs` lets the reconciler skip a `setSnapshot` that would change
 * nothing.
 *
 * `problems()` is go-control-plane's `Consistent()`: every ClusterLoadAssignment an EDS cluster names and
 * every RouteConfiguration a listener's HttpConnectionManager names over RDS must be in the snapshot, or a
 * proxy would warm forever waiting for it.
 */
import { Cluster, Cluster_DiscoveryType } from '../../../proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '../../../proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../../proto/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../../../proto/gen/envoy/config/route/v3/route.js';
import { HttpConnectionManager } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  type Any,
} from '../../../proto/src/xds-types.js';
import { encodeCanonical, versionOf, versionOfSet, type Codec } from './hash.js';

export const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/**
 * The order updates are pushed in (make-before-break): clusters, then their endpoints, then listeners, then
 * their routes, so nothing a proxy receives refers to something it does not have yet.
 */
export const PUSH_ORDER: readonly string[] = [CLUSTER_TYPE_URL, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL];

/** Short names for logs. */
export const TYPE_SHORT: Readonly<Record<string, string>> = {
  [CLUSTER_TYPE_URL]: 'CDS',
  [CLUSTER_LOAD_ASSIGNMENT_TYPE_URL]: 'EDS',
  [LISTENER_TYPE_URL]: 'LDS',
  [ROUTE_CONFIGURATION_TYPE_URL]: 'RDS',
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
}

export interface SnapshotInput {
  readonly clusters?: readonly Cluster[];
  readonly endpoints?: readonly ClusterLoadAssignment[];
  readonly listeners?: readonly Listener[];
  readonly routes?: readonly RouteConfiguration[];
}

/** A resource given already encoded (tests, and types this module has no codec for). */
export interface EncodedResource {
  readonly name: string;
  readonly value: Uint8Array;
}

const EMPTY: TypeSet = Object.freeze({ version: versionOfSet([]), items: new Map() });

export class Snapshot {
  private constructor(
    private readonly byType: ReadonlyMap<string, TypeSet>,
    private readonly refs: { readonly endpoints: readonly string[]; readonly routes: readonly string[] },
  ) {
    Object.freeze(this);
  }

  static empty(): Snapshot {
    return new Snapshot(new Map(), { endpoints: [], routes: [] });
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
    return new Snapshot(byType, { endpoints: (input.clusters ?? []).flatMap(edsNameOf), routes: (input.listeners ?? []).flatMap(rdsNamesOf) });
  }

  /** Builds a snapshot from encoded resources per type URL (no reference checks). */
  static fromEncoded(resources: Readonly<Record<string, readonly EncodedResource[]>>): Snapshot {
    const byType = new Map<string, TypeSet>();
    for (const [typeUrl, list] of Object.entries(resources)) byType.set(typeUrl, typeSet(typeUrl, list));
    return new Snapshot(byType, { endpoints: [], routes: [] });
  }

  /** The resources of a type (an empty set for a type the snapshot does not have). */
  get(typeUrl: string): TypeSet {
    return this.byType.get(typeUrl) ?? EMPTY;
  }

  /** True when both hold exactly the same resources. */
  sameAs(other: Snapshot | undefined): boolean {
    if (!other) return false;
    const types = new Set([...this.byType.keys(), ...other.byType.keys()]);
    for (const t of types) if (this.get(t).version !== other.get(t).version) return false;
    return true;
  }

  /** Missing references (an empty list when consistent). */
  problems(): string[] {
    const out: string[] = [];
    const eds = this.get(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL).items;
    const rds = this.get(ROUTE_CONFIGURATION_TYPE_URL).items;
    for (const name of this.refs.endpoints) if (!eds.has(name)) out.push(`cluster ${name}: no ClusterLoadAssignment ${name}`);
    for (const name of this.refs.routes) if (!rds.has(name)) out.push(`listener: no RouteConfiguration ${name}`);
    return out;
  }

  /** `type: count` per type, for logs. */
  summary(): string {
    return PUSH_ORDER.map((t) => `${shortType(t)} ${this.get(t).items.size}`).join(', ');
  }
}

function typeSet(typeUrl: string, list: readonly EncodedResource[]): TypeSet {
  const sorted = [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const items = new Map<string, VersionedResource>();
  for (const { name, value } of sorted) {
    if (items.has(name)) throw new Error(`snapshot: two ${shortType(typeUrl)} resources named ${JSON.stringify(name)}`);
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value);
    items.set(name, Object.freeze({ name, version: versionOf(bytes), body: Object.freeze({ typeUrl, value: bytes }) }));
  }
  return Object.freeze({ version: versionOfSet([...items.values()].map((r) => [r.name, r.version] as const)), items });
}

function edsNameOf(c: Cluster): string[] {
  if (c.clusterDiscoveryType?.$case !== 'type' || c.clusterDiscoveryType.value !== Cluster_DiscoveryType.EDS) return [];
  return [c.edsClusterConfig?.serviceName || c.name];
}

function rdsNamesOf(l: Listener): string[] {
  const any = l.apiListener?.apiListener;
  if (!any || any.typeUrl !== HCM_TYPE_URL) return [];
  const hcm = HttpConnectionManager.decode(any.value);
  return hcm.routeSpecifier?.$case === 'rds' ? [hcm.routeSpecifier.value.routeConfigName] : [];
}
