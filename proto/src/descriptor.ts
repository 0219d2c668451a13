import type { z } from 'zod';

/** Where a resource lives: cluster-wide (`global`) or inside one mesh (`mesh`). */
export type Scope = 'global' | 'mesh';

/**
 * Which way a type travels over KDS. Mirrors Kuma's KDS flags (`kuma-multizone.md` §2.1):
 * - `global-to-zones`: written on the global, sent to every zone (Mesh, policies, secrets).
 * - `zone-to-global`: written in a zone, sent up to the global only (Dataplane, insights).
 * - `zone-to-global-to-zones`: written in a zone, sent up, then across to every other enabled zone (ZoneIngress).
 * - `none`: never synced; each plane keeps its own (Zone, ZoneInsight).
 */
export type KdsDirection = 'global-to-zones' | 'zone-to-global' | 'zone-to-global-to-zones' | 'none';

/**
 * How the REST body is laid out, as in Kuma:
 * - `flat`: legacy proto types put meta and spec fields side by side (`{type, name, networking: ...}`).
 * - `spec`: new-style types nest the spec (`{type, mesh, name, labels, spec: {...}}`).
 */
export type BodyShape = 'flat' | 'spec';

/** A spec schema: validates and normalises a spec object; its output is what the store keeps. */
export type SpecSchema = z.ZodType<Record<string, unknown>>;

/**
 * Everything the rest of Ursa needs to know about one resource type. Read it; never switch on a kind.
 * `K` and `S` keep the kind's literal name and its schema's own type, so spec types can be derived from the
 * table (`SpecOf<'Dataplane'>`, `spec-types.ts`); code that handles any kind uses the defaults.
 */
export interface ResourceDescriptor<K extends string = string, S extends SpecSchema = SpecSchema> {
  /** Kuma's type name, also the `type` field of REST bodies and the KDS type. */
  readonly kind: K;
  readonly scope: Scope;
  /** REST path segment (`meshtimeouts`); mesh-scoped types live under `/meshes/{mesh}/<path>`. */
  readonly path: string;
  /** Extra REST path segments Kuma also accepts (`zone-ingresses`). */
  readonly altPaths: readonly string[];
  readonly kds: KdsDirection;
  /** True when the global plane refuses writes through its API (zone-owned types and insights). */
  readonly readOnlyOnGlobal: boolean;
  /** Insights are written only by the system, never through any API. */
  readonly readOnly: boolean;
  readonly shape: BodyShape;
  /** A targetRef policy (shown in `/policies`). */
  readonly isPolicy: boolean;
  /** Kuma's short name, used in KRIs (`kri_mt_default__...`). */
  /** Empty for types Kuma gives none (secrets, insights): they have no KRI. */
  readonly shortName: string;
  readonly singularDisplayName: string;
  readonly pluralDisplayName: string;
  /**
   * JSONPaths (into the spec) of tag maps the REST `tag=key:value` filter searches, e.g. a Dataplane's
   * inbound and gateway tags. Empty: the type has no tag filter.
   */
  readonly tagPaths: readonly string[];
  /**
   * For zone-originated kinds: the spec field that names the owning zone (ZoneIngress `zone`); the global
   * overwrites it with the zone the resource came from, so a zone cannot claim to be another.
   */
  readonly zoneField?: string;
  /** Include in Kuma's federation export profile (`/_resources` `includeInFederation`). */
  readonly includeInFederation: boolean;
  /** This type defines meshes: deleting one cascades to everything in its mesh; creating one adds defaults. */
  readonly isMeshDefinition: boolean;
  /**
   * This type defines zones: deleting one is refused while the zone is connected and then removes all it
   * synced; disabling one hides its resources from other zones.
   */
  readonly isZoneDefinition: boolean;
  /** While a resource of this type exists in a mesh, the mesh cannot be deleted (Kuma: dataplanes). */
  readonly blocksMeshDeletion: boolean;
  /** For policies: which sections the spec has (`/policies`, `/_resources`). */
  readonly policy?: { readonly hasTo: boolean; readonly hasFrom: boolean; readonly hasRules: boolean };
  /** A shorter name limit than the general one (Kuma: 63 for MeshExternalService, a DNS label of its hostname). */
  readonly maxNameLength?: number;
  /**
   * Kuma warns (a deprecation, the write still succeeds) when a name is not a DNS-1035 label (Mesh, Zone:
   * `Deprecations()` in Kuma's resource types).
   */
  readonly warnNonDns1035Name?: boolean;
  /** For `*Insight` types, the kind whose object this insight describes (same name). */
  readonly insightOf?: string;
  /**
   * Where the store keeps it. `feed` (the default): the `resources` table, every write taking the tenant's next
   * revision (under the tenant's lock) and entering the change feed. `status`: the `status_resources` table,
   * for status the global writes about its own sessions, per session and often (ZoneInsight): its writes take
   * no revision and no tenant lock, and wake no feed reader, so 10,000 zones' insight flushes never queue
   * behind, or in front of, the writes zones receive. Only for kinds that are never synced (`kds: 'none'`).
   */
  readonly storage: 'feed' | 'status';
  /** Validates and normalises the spec (for `flat` types: the body minus meta fields). */
  readonly schema: S;
  /**
   * Rewrites a violation's field path (from `spec` on) where Kuma's validator names a field differently from
   * where it sits in the body, so clients matching Kuma's paths find it (MeshRetry: `default.conf.http`).
   */
  readonly kumaFieldPath?: (field: string) => string;
}
