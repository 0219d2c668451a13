/**
 * Everything the generator derives once per mesh per generation (endpoints, protocols, VIPs, inbound ports,
 * policies, the mTLS CA) and the outbound groups of the mesh: proxies matched by the same policies share
 * one group and, through it, the group's outbound resources (`shared-outbounds.ts`).
 */
import { createHash } from 'node:crypto';
import { isLocal, type DataplaneResource } from '../../model/dataplane.js';
import type { PolicyResource } from '../policy/index.js';
import type { Snapshot, TypeSet, VersionedResource } from '../snapshot.js';
import { externalServiceKey, externalServiceOfKey } from '../../dns/external-services.js';
import { externalServiceModels, type ExternalServiceModel } from './external-services.js';
import { localEgressEndpoints, routesThroughEgress, throughEgress } from './egress-route.js';
import { proxylessEgressNames } from './egress-proxyless.js';
import type { MeshResource } from '../../model/resources.js';
import { meshEndpoints, type ServiceEndpoint, type ServiceEndpoints } from './endpoints.js';
import { meshModel, proxyModelOf, secretPem, serviceProtocols, type MeshModel, type Protocol } from './model.js';
import type { ProxyPolicies } from './policy-hooks.js';
import type { GenerationInput } from './types.js';
import { indexByService, updatedMeshInputs, type MeshDelta } from './mesh-inputs-delta.js';

/** Shared, per mesh and outbound group. */
export interface Group {
  readonly policies: ProxyPolicies;
  readonly clusters: Map<string, VersionedResource>;
  readonly clas: Map<string, VersionedResource>;
  sets?: { cds: TypeSet; eds: TypeSet; lds: TypeSet };
  /** Per service, its shared outbound resources in this generation (`shared-outbounds.ts`). */
  readonly entries: Map<string, unknown>;
  /** Shared sets per list of reachable services (`reachableServices`), in this generation. */
  readonly reach: Map<string, { cds: TypeSet; eds: TypeSet; lds: TypeSet }>;
  proxyless?: Snapshot;
}

export interface MeshInputs {
  readonly model: MeshModel;
  readonly services: ReadonlyMap<string, ServiceEndpoints>;
  readonly endpointKeys: ReadonlyMap<string, string>;
  readonly protocols: ReadonlyMap<string, Protocol>;
  readonly vips: ReadonlyMap<string, string>;
  /** The mesh's MeshExternalServices (`external-services.ts`), with their VIPs (absent: none allocated yet). */
  readonly externalServices: readonly { readonly model: ExternalServiceModel; readonly vip?: string }[];
  /**
   * Services a proxyless client reaches through the zone egress's plaintext path, all their instances, this
   * zone's and others' (`egress-proxyless.ts`); empty when the mesh does not route through the egress or
   * the zone has none.
   */
  readonly proxylessViaEgress: ReadonlySet<string>;
  /** The zone's egresses, where a sidecar sends MeshExternalService traffic when mTLS is on. */
  readonly egresses: readonly ServiceEndpoint[];
  /** Local inbound ports per service (the VIP listens on them and on 80). */
  readonly ports: ReadonlyMap<string, readonly number[]>;
  readonly policies: readonly PolicyResource[];
  readonly epoch: string;
  readonly dataplanes: ReadonlyMap<string, DataplaneResource>;
  readonly ca?: { certPem: string; keyPem: string };
  readonly groups: Map<string, Group>;
  /** The mesh's Dataplanes per service of theirs (`mesh-inputs-delta.ts`). */
  readonly byService: ReadonlyMap<string, ReadonlySet<DataplaneResource>>;
}

/**
 * The inputs of every mesh in `wanted` (the meshes of the connected nodes). With `delta` (a partial pass,
 * `visit-plan.ts`: only Dataplanes changed), a mesh's previous inputs are brought up to date for the
 * services of the changed Dataplanes only (`mesh-inputs-delta.ts`) instead of re-derived from every one.
 */
export function meshInputs(input: GenerationInput, wanted: ReadonlySet<string>, delta?: MeshDelta): Map<string, MeshInputs> {
  const out = new Map<string, MeshInputs>();
  if (delta) {
    for (const name of wanted) {
      const prev = delta.previous.get(name);
      const next = prev && updatedMeshInputs(prev, input, delta.changed);
      if (next) out.set(name, next);
    }
    if (out.size === wanted.size) return out;
    wanted = new Set([...wanted].filter((m) => !out.has(m)));
  }
  const byMesh = new Map<string, DataplaneResource[]>();
  // Across every mesh (a name with instances in two of them is served to neither), once, when one needs it.
  let viaEgress: Map<string, Set<string>> | undefined;
  const proxylessViaEgress = (m: MeshResource) => (routesThroughEgress(m) ? ((viaEgress ??= proxylessEgressNames(input)).get(m.name) ?? NONE) : NONE);
  for (const dp of input.dataplanes) {
    if (!wanted.has(dp.mesh)) continue;
    let l = byMesh.get(dp.mesh);
    if (!l) byMesh.set(dp.mesh, (l = []));
    l.push(dp);
  }
  for (const m of input.meshes) {
    if (!wanted.has(m.name)) continue;
    const model = meshModel(m);
    const dataplanes = byMesh.get(m.name) ?? [];
    const direct = meshEndpoints({ mesh: m.name, zone: input.zone, dataplanes, zoneIngresses: input.zoneIngresses });
    // routing.zoneEgress: other zones are reached through this zone's egress (`egress-route.ts`).
    const services = routesThroughEgress(m) ? throughEgress(direct, input.zone, localEgressEndpoints(input.zoneEgresses ?? [])) : direct;
    const endpointKeys = new Map([...services].map(([s, e]) => [s, JSON.stringify(e.zones)] as const));
    const policies = input.policies.filter((p) => p.mesh === m.name);
    const ports = new Map<string, number[]>();
    for (const dp of dataplanes) {
      if (!isLocal(dp)) continue;
      for (const ib of proxyModelOf(dp).inbounds) {
        const l = ports.get(ib.service) ?? [];
        if (!l.includes(ib.port)) l.push(ib.port);
        ports.set(ib.service, l);
      }
    }
    for (const l of ports.values()) l.sort((a, b) => a - b);
    const secret = (name: string) => input.secrets.find((s) => s.mesh === m.name && s.name === name);
    const certPem = model.mtls && secretPem(secret(model.mtls.certSecret));
    const keyPem = model.mtls && secretPem(secret(model.mtls.keySecret));
    out.set(m.name, {
      model,
      services,
      endpointKeys,
      protocols: serviceProtocols(m.name, dataplanes, input.zoneIngresses, input.zone),
      vips: serviceVips(input.vips.get(m.name)),
      externalServices: externalServiceModels(m.name, input.externalServices ?? [], input.secrets).map((model) => ({ model, vip: input.vips.get(m.name)?.get(externalServiceKey(model.name)) })),
      egresses: localEgressEndpoints(input.zoneEgresses ?? []),
      proxylessViaEgress: proxylessViaEgress(m),
      ports,
      policies,
      epoch: hash(JSON.stringify([model, policies.map((p) => [p.kind, p.name, p.labels, p.spec])])),
      dataplanes: new Map(dataplanes.map((d) => [d.name, d] as const)),
      ca: certPem && keyPem ? { certPem, keyPem } : undefined,
      groups: new Map(),
      byService: indexByService(dataplanes),
    });
  }
  return out;
}

/** The mesh's group for proxies matched by `policies` (created on first use in this generation). */
export function groupOf(mesh: MeshInputs, policies: ProxyPolicies): Group {
  let g = mesh.groups.get(policies.outboundKey);
  if (!g) mesh.groups.set(policies.outboundKey, (g = { policies, clusters: new Map(), clas: new Map(), entries: new Map(), reach: new Map() }));
  return g;
}

/** Key of a group across generations (its previous sets are found under it). */
export const groupKey = (mesh: MeshInputs, g: Group): string => `${mesh.model.name}\u0000${g.policies.outboundKey}`;

/** The mesh's service VIPs without its MeshExternalServices' (`dns/external-services.ts`), kept as the same object when there are none. */
function serviceVips(vips: ReadonlyMap<string, string> | undefined): ReadonlyMap<string, string> {
  if (!vips) return new Map();
  // Once per table object: the generator keeps an unchanged table the same object (`visit-plan.ts`).
  let out = ownVips.get(vips);
  if (!out) {
    out = [...vips.keys()].some((k) => externalServiceOfKey(k) !== undefined) ? new Map([...vips].filter(([k]) => externalServiceOfKey(k) === undefined)) : vips;
    ownVips.set(vips, out);
  }
  return out;
}
const ownVips = new WeakMap<ReadonlyMap<string, string>, ReadonlyMap<string, string>>();

const NONE: ReadonlySet<string> = new Set();
const hash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 24);
