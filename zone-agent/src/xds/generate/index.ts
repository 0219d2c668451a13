/**
 * The generator: the zone's resources in, one snapshot per connected node out, by node kind
 * (`node-kind.ts`): Envoy sidecars (`sidecar.ts`, mTLS over SDS `tls.ts`), proxyless gRPC clients
 * (`proxyless.ts`) and zone ingresses (`ingress.ts`).
 *
 * Scale (2,000 sidecars of 1,000 services must cost far less than 2,000 x 1,000 clusters):
 * - What does not depend on the proxy is built once per mesh and *outbound group* (proxies matched by the
 *   same policies, `policy-hooks.ts`): each destination's cluster, ClusterLoadAssignment and VIP listeners.
 *   A transparent-proxy sidecar's snapshot layers its own resources (inbounds, declared outbounds,
 *   secrets) over the group's shared sets (`layeredTypeSet`), without copying them.
 * - Every resource is memoised by its inputs and interned by content (`memo.ts`): a rebuild after one
 *   endpoint change re-encodes one ClusterLoadAssignment; every other resource is the same object as
 *   before, so the group's other sets are reused as they are.
 * - A node whose own inputs (its Dataplane, its certificate, the mesh, the policies) did not change keeps
 *   its own sets; only its view of the shared sets is recomposed, in O(1).
 * - Snapshots are handed out node by node (`onSnapshot`), yielding to the event loop every `batchSize`
 *   nodes, so streams keep being served while a large rebuild runs.
 */
import { createHash } from 'node:crypto';
import { Cluster } from '../../../../proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '../../../../proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../../../proto/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../../../../proto/gen/envoy/config/route/v3/route.js';
import { Secret } from '../../../../proto/gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
  SECRET_TYPE_URL as SDS,
} from '../../../../proto/src/xds-types.js';
import { isLocal, type ResourceLike } from '../../ingress/available.js';
import type { WorkloadCertificate, WorkloadCertificates } from '../certs.js';
import type { PolicyResource } from '../policy/index.js';
import { encodeCanonical, type Codec } from '../hash.js';
import { emptyTypeSet, layeredTypeSet, Snapshot, typeSetOf, type TypeSet, type VersionedResource } from '../snapshot.js';
import { loadAssignmentFor } from './eds.js';
import { meshEndpoints, type ServiceEndpoints } from './endpoints.js';
import { ingressCluster, ingressListener, ingressLoadAssignment, type IngressService } from './ingress.js';
import { ResourceMemo } from './memo.js';
import { dataplaneModelOf, meshModel, secretPem, serviceProtocols, type DataplaneModel, type MeshModel, type Protocol } from './model.js';
import { outboundClusterName } from './naming.js';
import type { ProxyKind } from './node-kind.js';
import { proxyPolicies, type ProxyPolicies } from './policy-hooks.js';
import { apiListener, edsCluster as proxylessCluster, routeToCluster } from './proxyless.js';
import { caSecret, identitySecret } from './tls.js';
import { inboundListener, localCluster, outboundCluster, outboundListener, passthrough, type OutboundHooks } from './sidecar.js';

export type { ProxyKind } from './node-kind.js';
export { describeNode, type NodeIdentity } from './node-kind.js';

/** Port every service VIP also listens on (Kuma's `KUMA_DNS_SERVER_SERVICE_VIP_PORT`). */
export const VIP_PORT = 80;

export interface GenerationInput {
  readonly zone: string;
  readonly meshes: readonly ResourceLike[];
  readonly dataplanes: readonly ResourceLike[];
  readonly zoneIngresses: readonly ResourceLike[];
  readonly secrets: readonly ResourceLike[];
  /** Every policy resource (any mesh). */
  readonly policies: readonly PolicyResource[];
  /** mesh -> service -> VIP, from the DNS allocator's table (read, never allocated here). */
  readonly vips: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

export interface ConnectedNode {
  readonly id: string;
  readonly kind: ProxyKind;
  /** `''` for a zone ingress. */
  readonly mesh: string;
  readonly name: string;
}

export interface GenerateOptions {
  /** Called for every node that has a snapshot, in batches. */
  readonly onSnapshot: (id: string, snapshot: Snapshot) => void;
  /** Called for a node that gets no (new) snapshot this time, with the reason. */
  readonly onSkip?: (id: string, reason: string) => void;
  readonly batchSize?: number;
}

export interface GenerationStats {
  readonly nodes: number;
  /** Nodes whose own resources were rebuilt (the rest only recomposed). */
  readonly rebuilt: number;
  /** Resources encoded by this generation (memo misses). */
  readonly encoded: number;
  /** Services of transparent-proxy meshes without a VIP yet (the DNS allocator runs on its own loop). */
  readonly missingVips: number;
  readonly ms: number;
}

export interface GeneratorOptions {
  readonly certs: WorkloadCertificates;
  readonly log?: (line: string) => void;
}

/** Shared, per mesh and outbound group. */
interface Group {
  readonly policies: ProxyPolicies;
  readonly clusters: Map<string, VersionedResource>;
  readonly clas: Map<string, VersionedResource>;
  sets?: { cds: TypeSet; eds: TypeSet; lds: TypeSet };
  proxyless?: Snapshot;
}

interface MeshInputs {
  readonly model: MeshModel;
  readonly services: ReadonlyMap<string, ServiceEndpoints>;
  readonly endpointKeys: ReadonlyMap<string, string>;
  readonly protocols: ReadonlyMap<string, Protocol>;
  readonly vips: ReadonlyMap<string, string>;
  /** Local inbound ports per service (the VIP listens on them and on 80). */
  readonly ports: ReadonlyMap<string, readonly number[]>;
  readonly policies: readonly PolicyResource[];
  readonly epoch: string;
  readonly dataplanes: ReadonlyMap<string, ResourceLike>;
  readonly ca?: { certPem: string; keyPem: string };
  readonly groups: Map<string, Group>;
}

/** One destination's shared resources and the inputs they were built from. */
interface SharedService {
  readonly sig: string;
  readonly cluster: VersionedResource;
  readonly cla: VersionedResource;
  readonly listeners: readonly VersionedResource[];
}

/** What a node's last generation used, so an unchanged node costs a string comparison. */
interface NodeState {
  /** The Dataplane object and mesh epoch last seen (same object: unchanged, no need to compare). */
  dp: ResourceLike;
  epoch: string;
  /** Its Dataplane and the mesh's epoch, as a string. */
  inputKey: string;
  policies: ProxyPolicies;
  model: DataplaneModel;
  /** Everything its own sets depend on. */
  ownKey: string;
  own: { cds: TypeSet; lds: TypeSet; sds: TypeSet };
  /** The last snapshot and the sets it was composed from. */
  composed?: { parts: readonly TypeSet[]; snapshot: Snapshot };
}

const PROTOCOL_FOR_PROXYLESS: Protocol = 'grpc';
/** Certificates issued at once (see `issueCertificates`). */
const CERT_CONCURRENCY = 8;
const EMPTY_OWN: NodeState['own'] = { cds: emptyTypeSet(), lds: emptyTypeSet(), sds: emptyTypeSet() };

export class XdsGenerator {
  private readonly memo = new ResourceMemo();
  private readonly nodeStates = new Map<string, NodeState>();
  /** Previous shared sets per `mesh/group`, reused when their resources did not change. */
  private readonly prevShared = new Map<string, { epoch: string; services: Map<string, SharedService>; key: VersionedResource[][]; sets: { cds: TypeSet; eds: TypeSet; lds: TypeSet } }>();
  private readonly prevProxyless = new Map<string, { key: VersionedResource[]; snapshot: Snapshot }>();
  private missingVips = 0;
  private readonly usedGroups = new Set<string>();

  constructor(private readonly opts: GeneratorOptions) {}

  /** Generates for `nodes`; resolves when every node was handed to `onSnapshot` or `onSkip`. */
  async generate(input: GenerationInput, nodes: readonly ConnectedNode[], out: GenerateOptions): Promise<GenerationStats> {
    const t0 = performance.now();
    const encodedBefore = this.memo.encoded;
    this.memo.begin();
    this.missingVips = 0;
    this.usedGroups.clear();
    const meshes = this.meshInputs(input, new Set(nodes.filter((n) => n.kind !== 'ingress').map((n) => n.mesh)));
    await this.issueCertificates(meshes, nodes);
    let rebuilt = 0;
    const batch = out.batchSize ?? 200;
    const live = new Set<string>();
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      live.add(node.id);
      try {
        const r = await this.nodeSnapshot(input, meshes, node);
        if ('skip' in r) out.onSkip?.(node.id, r.skip);
        else {
          if (r.rebuilt) rebuilt++;
          out.onSnapshot(node.id, r.snapshot);
        }
      } catch (err) {
        out.onSkip?.(node.id, `generation failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      if ((i + 1) % batch === 0) await new Promise<void>((r) => setImmediate(r));
    }
    for (const id of this.nodeStates.keys()) if (!live.has(id)) this.nodeStates.delete(id);
    // Groups no node belongs to any more.
    for (const k of this.prevShared.keys()) if (!this.usedGroups.has(k)) this.prevShared.delete(k);
    for (const k of this.prevProxyless.keys()) if (!this.usedGroups.has(k)) this.prevProxyless.delete(k);
    this.opts.certs.retain((mesh, name) => live.has(`${mesh}.${name}`));
    this.memo.sweep();
    return { nodes: nodes.length, rebuilt, encoded: this.memo.encoded - encodedBefore, missingVips: this.missingVips, ms: performance.now() - t0 };
  }

  /**
   * Issues the certificates this generation needs, several at a time (key generation and signing run on
   * libuv's thread pool): 2,000 new sidecars would otherwise wait for each other one by one.
   */
  private async issueCertificates(meshes: Map<string, MeshInputs>, nodes: readonly ConnectedNode[]): Promise<void> {
    const todo: (() => Promise<unknown>)[] = [];
    for (const n of nodes) {
      const mesh = n.kind === 'sidecar' ? meshes.get(n.mesh) : undefined;
      const dp = mesh?.ca ? mesh.dataplanes.get(n.name) : undefined;
      if (!mesh?.ca || !dp) continue;
      const services = dataplaneModelOf(dp).inbounds.map((i) => i.service);
      const ca = mesh.ca;
      if (!this.opts.certs.current(mesh.model.name, n.name, services, ca)) todo.push(() => this.opts.certs.get(mesh.model.name, n.name, services, ca));
    }
    const workers = Array.from({ length: Math.min(CERT_CONCURRENCY, todo.length) }, async () => {
      for (let job = todo.pop(); job; job = todo.pop()) await job().catch(() => undefined); // a failure shows up per node below
    });
    await Promise.all(workers);
  }

  /** Distinct encoded resources held (for the benchmark and logs). */
  get resourcesHeld(): number {
    return this.memo.size;
  }

  // ---- per mesh ------------------------------------------------------------------------------------------

  private meshInputs(input: GenerationInput, wanted: ReadonlySet<string>): Map<string, MeshInputs> {
    const out = new Map<string, MeshInputs>();
    const byMesh = new Map<string, ResourceLike[]>();
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
      const services = meshEndpoints({ mesh: m.name, zone: input.zone, dataplanes, zoneIngresses: input.zoneIngresses });
      const endpointKeys = new Map([...services].map(([s, e]) => [s, JSON.stringify(e.zones)] as const));
      const policies = input.policies.filter((p) => p.mesh === m.name);
      const ports = new Map<string, number[]>();
      for (const dp of dataplanes) {
        if (!isLocal(dp)) continue;
        for (const ib of dataplaneModelOf(dp).inbounds) {
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
        vips: input.vips.get(m.name) ?? new Map(),
        ports,
        policies,
        epoch: hash(JSON.stringify([model, policies.map((p) => [p.kind, p.name, p.labels, p.spec])])),
        dataplanes: new Map(dataplanes.map((d) => [d.name, d] as const)),
        ca: certPem && keyPem ? { certPem, keyPem } : undefined,
        groups: new Map(),
      });
    }
    return out;
  }

  private group(mesh: MeshInputs, policies: ProxyPolicies): Group {
    let g = mesh.groups.get(policies.outboundKey);
    if (!g) mesh.groups.set(policies.outboundKey, (g = { policies, clusters: new Map(), clas: new Map() }));
    return g;
  }

  /** The shared resources of one destination for a group (memoised). */
  private destination(mesh: MeshInputs, g: Group, zone: string, service: string, includeRemote: boolean): { cluster: VersionedResource; cla: VersionedResource; hooks: OutboundHooks } {
    const hooks = g.policies.outbound(service);
    const protocol = mesh.protocols.get(service) ?? 'tcp';
    const gk = `${mesh.model.name}\u0000${g.policies.outboundKey}\u0000${mesh.epoch}`;
    let cluster = g.clusters.get(service);
    if (!cluster) {
      cluster = this.memo.get(CDS, `${gk}\u0000${service}\u0000${protocol}`, Cluster, outboundClusterName(service), () => outboundCluster(mesh.model, service, protocol, hooks));
      g.clusters.set(service, cluster);
    }
    let cla = g.clas.get(service);
    if (!cla) {
      const loc = g.policies.locality(service);
      const key = `${mesh.model.name}\u0000${service}\u0000${includeRemote}\u0000${loc.key === 'flat' || loc.key === 'local-first' ? loc.key : `${loc.key}\u0000${mesh.epoch}`}\u0000${mesh.endpointKeys.get(service) ?? ''}`;
      cla = this.memo.get(EDS, key, ClusterLoadAssignment, outboundClusterName(service), () =>
        loadAssignmentFor(outboundClusterName(service), mesh.services.get(service), { localZone: zone, includeRemote, priorityOf: loc.priorityOf }),
      );
      g.clas.set(service, cla);
    }
    return { cluster, cla, hooks };
  }

  /**
   * Every destination of the mesh for a transparent-proxy sidecar of the group: shared sets. Per service, the
   * previous generation's resources are reused when the service's inputs (endpoints, VIP, ports, protocol)
   * are the same strings as before, so an unchanged service costs a comparison.
   */
  private sharedSets(mesh: MeshInputs, g: Group, zone: string): { cds: TypeSet; eds: TypeSet; lds: TypeSet } {
    if (g.sets) return g.sets;
    const memoKey = `${mesh.model.name}\u0000${g.policies.outboundKey}`;
    this.usedGroups.add(memoKey);
    const prev = this.prevShared.get(memoKey);
    const reuse = prev !== undefined && prev.epoch === mesh.epoch;
    const perService = new Map<string, SharedService>();
    const clusters: VersionedResource[] = [];
    const clas: VersionedResource[] = [];
    const listeners: VersionedResource[] = [];
    const services = [...new Set([...mesh.services.keys(), ...mesh.vips.keys()])].sort();
    for (const service of services) {
      const vip = mesh.vips.get(service);
      const protocol = mesh.protocols.get(service) ?? 'tcp';
      const ports = [...new Set([...(mesh.ports.get(service) ?? []), VIP_PORT])];
      const sig = `${protocol}\u0000${vip ?? ''}\u0000${ports.join(',')}\u0000${mesh.endpointKeys.get(service) ?? ''}`;
      let entry = reuse ? prev.services.get(service) : undefined;
      if (entry && entry.sig === sig) {
        this.memo.keep(entry.cluster);
        this.memo.keep(entry.cla);
        for (const l of entry.listeners) this.memo.keep(l);
      } else {
        const d = this.destination(mesh, g, zone, service, mesh.model.mtls !== undefined);
        const vipListeners = vip
          ? ports.map((port) =>
              this.memo.get(LDS, `${mesh.model.name}\u0000${g.policies.outboundKey}\u0000${mesh.epoch}\u0000${service}\u0000${protocol}\u0000${vip}:${port}`, Listener, `outbound:${vip}:${port}`, () =>
                outboundListener(vip, port, service, protocol, d.hooks, false),
              ),
            )
          : [];
        entry = { sig, cluster: d.cluster, cla: d.cla, listeners: vipListeners };
      }
      if (!vip) this.missingVips++;
      perService.set(service, entry);
      clusters.push(entry.cluster);
      clas.push(entry.cla);
      listeners.push(...entry.listeners);
    }
    const key = [clusters, clas, listeners];
    let sets: { cds: TypeSet; eds: TypeSet; lds: TypeSet };
    if (prev && sameLists(prev.key, key)) sets = prev.sets;
    else {
      // Reuse each set whose resources did not change (an endpoint change rebuilds EDS only).
      sets = {
        cds: prev && sameList(prev.key[0]!, clusters) ? prev.sets.cds : typeSetOf(CDS, clusters),
        eds: prev && sameList(prev.key[1]!, clas) ? prev.sets.eds : typeSetOf(EDS, clas),
        lds: prev && sameList(prev.key[2]!, listeners) ? prev.sets.lds : typeSetOf(LDS, listeners),
      };
    }
    this.prevShared.set(memoKey, { epoch: mesh.epoch, services: perService, key, sets });
    g.sets = sets;
    return sets;
  }

  // ---- per node ------------------------------------------------------------------------------------------

  private async nodeSnapshot(input: GenerationInput, meshes: Map<string, MeshInputs>, node: ConnectedNode): Promise<{ snapshot: Snapshot; rebuilt: boolean } | { skip: string }> {
    if (node.kind === 'ingress') return { snapshot: this.ingressSnapshot(input, node), rebuilt: true };
    const mesh = meshes.get(node.mesh);
    if (!mesh) return { snapshot: Snapshot.empty(), rebuilt: false };
    const dp = mesh.dataplanes.get(node.name);
    if (!dp) return { snapshot: Snapshot.empty(), rebuilt: false };
    // Policy matching and parsing only when the Dataplane or the mesh (policies included) changed.
    let state = this.nodeStates.get(node.id);
    const same = state && state.dp === dp && state.epoch === mesh.epoch;
    const inputKey = same ? state!.inputKey : `${node.kind}\u0000${mesh.epoch}\u0000${JSON.stringify(dp.labels)}\u0000${JSON.stringify(dp.spec)}`;
    if (state && !same) {
      state.dp = dp;
      state.epoch = mesh.epoch;
    }
    if (!state || state.inputKey !== inputKey) {
      const policies = proxyPolicies({ mesh: mesh.model, zone: input.zone, dataplane: dp, policies: mesh.policies });
      const fresh: NodeState = { dp, epoch: mesh.epoch, inputKey, policies, model: dataplaneModelOf(dp), ownKey: '', own: EMPTY_OWN };
      this.nodeStates.set(node.id, fresh);
      state = fresh;
    }
    const g = this.group(mesh, state.policies);
    if (node.kind === 'proxyless') return { snapshot: this.proxylessSnapshot(mesh, g, input.zone), rebuilt: false };
    return this.sidecarSnapshot(mesh, g, input.zone, node, state);
  }

  private proxylessSnapshot(mesh: MeshInputs, g: Group, zone: string): Snapshot {
    if (g.proxyless) return g.proxyless;
    const list: VersionedResource[] = [];
    const gk = `${mesh.model.name}\u0000${g.policies.outboundKey}\u0000${mesh.epoch}`;
    const clusters: VersionedResource[] = [];
    const clas: VersionedResource[] = [];
    const listeners: VersionedResource[] = [];
    const routes: VersionedResource[] = [];
    for (const service of mesh.services.keys()) {
      // Proxyless clients cannot do mesh mTLS, so remote zones are reached in plaintext (the deliberate
      // difference from sidecars, which reach them only with mTLS).
      const hooks = g.policies.outbound(service);
      const loc = g.policies.locality(service);
      clusters.push(this.memo.get(CDS, `pl\u0000${gk}\u0000${service}`, Cluster, service, () => hooks.decorateCluster(proxylessCluster(service), PROTOCOL_FOR_PROXYLESS)));
      clas.push(
        this.memo.get(EDS, `pl\u0000${mesh.model.name}\u0000${service}\u0000${loc.key === 'flat' || loc.key === 'local-first' ? loc.key : `${loc.key}\u0000${mesh.epoch}`}\u0000${mesh.endpointKeys.get(service)}`, ClusterLoadAssignment, service, () =>
          loadAssignmentFor(service, mesh.services.get(service), { localZone: zone, includeRemote: true, priorityOf: loc.priorityOf }),
        ),
      );
      listeners.push(this.memo.get(LDS, `pl\u0000${service}`, Listener, service, () => apiListener(service)));
      routes.push(this.memo.get(RDS, `pl\u0000${gk}\u0000${service}`, RouteConfiguration, service, () => proxylessRoutes(service, hooks)));
    }
    list.push(...clusters, ...clas, ...listeners, ...routes);
    const memoKey = `${mesh.model.name}\u0000${g.policies.outboundKey}`;
    this.usedGroups.add(memoKey);
    const prev = this.prevProxyless.get(memoKey);
    let snapshot: Snapshot;
    if (prev && sameList(prev.key, list)) snapshot = prev.snapshot;
    else {
      snapshot = Snapshot.fromSets(new Map([[CDS, typeSetOf(CDS, clusters)], [EDS, typeSetOf(EDS, clas)], [LDS, typeSetOf(LDS, listeners)], [RDS, typeSetOf(RDS, routes)]]));
      this.prevProxyless.set(memoKey, { key: list, snapshot });
    }
    g.proxyless = snapshot;
    return snapshot;
  }

  private async sidecarSnapshot(mesh: MeshInputs, g: Group, zone: string, node: ConnectedNode, state: NodeState): Promise<{ snapshot: Snapshot; rebuilt: boolean } | { skip: string }> {
    const model = state.model;
    let cert: WorkloadCertificate | undefined;
    if (mesh.model.mtls) {
      if (!mesh.ca) return { skip: `mesh ${mesh.model.name} has mTLS on (backend ${mesh.model.mtls.backend}) but its CA secret ${mesh.model.mtls.certSecret} has not arrived from the global yet` };
      cert = this.opts.certs.current(mesh.model.name, node.name, model.inbounds.map((i) => i.service), mesh.ca) ?? (await this.opts.certs.get(mesh.model.name, node.name, model.inbounds.map((i) => i.service), mesh.ca));
    }
    const tp = model.transparentProxy;
    // Declared outbounds (and their route backends) of a proxy without transparent proxying.
    const declared = tp ? [] : [...new Set(model.outbounds.flatMap((o) => [o.service, ...g.policies.outbound(o.service).backendServices]))].sort();
    const destinations = declared.map((s) => ({ service: s, ...this.destination(mesh, g, zone, s, mesh.model.mtls !== undefined) }));

    const ownKey = `${g.policies.outboundKey}\u0000${cert?.certPem ?? ''}\u0000${tp ? 'tp' : destinations.map((d) => d.cluster.version).join(',')}`;
    const rebuilt = state.ownKey !== ownKey;
    if (rebuilt) {
      state.own = this.ownSets(mesh, g, state.policies, model, cert, destinations);
      state.ownKey = ownKey;
    }
    const own = state.own;
    let parts: TypeSet[];
    if (tp) {
      const shared = this.sharedSets(mesh, g, zone);
      parts = [shared.cds, own.cds, shared.eds, shared.lds, own.lds, own.sds];
    } else {
      const prevEds = state.composed?.parts[2];
      const clas = destinations.map((d) => d.cla);
      const eds = prevEds && prevEds.items.size === clas.length && clas.every((c) => prevEds.items.get(c.name) === c) ? prevEds : clas.length === 0 ? emptyTypeSet() : typeSetOf(EDS, clas);
      parts = [emptyTypeSet(), own.cds, eds, emptyTypeSet(), own.lds, own.sds];
    }
    // Nothing this node's snapshot is made of changed: hand out the same object (no work downstream).
    const prev = state.composed;
    if (prev && sameList(prev.parts, parts)) return { snapshot: prev.snapshot, rebuilt };
    const [cdsBase, cdsTop, eds, ldsBase, ldsTop, sds] = parts as [TypeSet, TypeSet, TypeSet, TypeSet, TypeSet, TypeSet];
    const prevSets = prev?.snapshot;
    // Reuse the layered views whose layers did not change (an EDS change keeps CDS and LDS as they were).
    const cds = prev && prev.parts[0] === cdsBase && prev.parts[1] === cdsTop ? prevSets!.get(CDS) : layeredTypeSet(cdsBase, cdsTop);
    const lds = prev && prev.parts[3] === ldsBase && prev.parts[4] === ldsTop ? prevSets!.get(LDS) : layeredTypeSet(ldsBase, ldsTop);
    const snapshot = Snapshot.fromSets(new Map([[CDS, cds], [EDS, eds], [LDS, lds], [SDS, sds]]));
    state.composed = { parts, snapshot };
    return { snapshot, rebuilt };
  }

  private ownSets(
    mesh: MeshInputs,
    g: Group,
    policies: ProxyPolicies,
    model: DataplaneModel,
    cert: WorkloadCertificate | undefined,
    destinations: readonly { service: string; cluster: VersionedResource; hooks: OutboundHooks }[],
  ): NodeState['own'] {
    const bind = model.transparentProxy === undefined;
    const clusters = new Map<string, VersionedResource>();
    const listeners = new Map<string, VersionedResource>();
    const add = (m: Map<string, VersionedResource>, r: VersionedResource) => m.set(r.name, r);
    const ek = `${mesh.model.name}\u0000${mesh.epoch}`;
    // Built only when this node's inputs changed; interned so identical ones are shared.
    const own = <T>(typeUrl: string, codec: Codec<T>, name: string, m: T) => this.memo.intern(typeUrl, name, encodeCanonical(codec, m));
    for (const ib of model.inbounds) {
      const c = localCluster(ib);
      add(clusters, own(CDS, Cluster, c.name, c));
      const l = inboundListener(mesh.model, ib, policies.inbound(ib.port), bind);
      add(listeners, own(LDS, Listener, l.name, l));
    }
    for (const d of destinations) add(clusters, d.cluster);
    for (const ob of model.outbounds) {
      const protocol = mesh.protocols.get(ob.service) ?? 'tcp';
      const hooks = destinations.find((d) => d.service === ob.service)?.hooks ?? g.policies.outbound(ob.service);
      add(
        listeners,
        this.memo.get(LDS, `out\u0000${ek}\u0000${g.policies.outboundKey}\u0000${JSON.stringify(ob)}\u0000${protocol}\u0000${bind}`, Listener, `outbound:${ob.address}:${ob.port}`, () =>
          outboundListener(ob.address, ob.port, ob.service, protocol, hooks, bind),
        ),
      );
    }
    if (model.transparentProxy) {
      for (const [dir, port] of [['outbound', model.transparentProxy.redirectPortOutbound], ['inbound', model.transparentProxy.redirectPortInbound]] as const) {
        const p = passthrough(dir, port);
        add(clusters, this.memo.get(CDS, `pt\u0000${dir}`, Cluster, p.cluster.name, () => p.cluster));
        add(listeners, this.memo.get(LDS, `pt\u0000${dir}\u0000${port}`, Listener, p.listener.name, () => p.listener));
      }
    }
    const secrets: VersionedResource[] = [];
    if (cert) {
      const id = identitySecret(mesh.model.name, cert.certPem, cert.keyPem);
      const ca = caSecret(mesh.model.name, cert.caPem);
      secrets.push(own(SDS, Secret, id.name, id), own(SDS, Secret, ca.name, ca));
    }
    return { cds: typeSetOf(CDS, clusters.values()), lds: typeSetOf(LDS, listeners.values()), sds: typeSetOf(SDS, secrets) };
  }

  private ingressSnapshot(input: GenerationInput, node: ConnectedNode): Snapshot {
    const zi = input.zoneIngresses.find((z) => z.name === node.name && isLocal(z));
    if (!zi) return Snapshot.empty();
    const n = (zi.spec.networking ?? {}) as { address?: unknown; port?: unknown };
    const address = typeof n.address === 'string' ? n.address : '';
    const port = typeof n.port === 'number' ? n.port : 0;
    const services: IngressService[] = [];
    for (const m of input.meshes) {
      const local = meshEndpoints({ mesh: m.name, zone: input.zone, dataplanes: input.dataplanes, zoneIngresses: [] });
      for (const [service, endpoints] of local) services.push({ mesh: m.name, service, endpoints });
    }
    services.sort((a, b) => (a.mesh + '\u0000' + a.service < b.mesh + '\u0000' + b.service ? -1 : 1));
    const clusters = services.map((s) => this.memo.get(CDS, `zi\u0000${s.mesh}\u0000${s.service}`, Cluster, `${s.mesh}:${s.service}`, () => ingressCluster(s)));
    const clas = services.map((s) =>
      this.memo.get(EDS, `zi\u0000${s.mesh}\u0000${s.service}\u0000${JSON.stringify(s.endpoints.zones)}`, ClusterLoadAssignment, `${s.mesh}:${s.service}`, () => ingressLoadAssignment(s, input.zone)),
    );
    const listeners = address !== '' && port > 0 ? [this.memo.get(LDS, `zi\u0000${address}:${port}\u0000${services.map((s) => `${s.mesh}/${s.service}`).join(',')}`, Listener, `inbound:${address}:${port}`, () => ingressListener(address, port, services))] : [];
    return Snapshot.fromSets(new Map([[CDS, typeSetOf(CDS, clusters)], [EDS, typeSetOf(EDS, clas)], [LDS, typeSetOf(LDS, listeners)]]));
  }
}

function proxylessRoutes(service: string, hooks: OutboundHooks): RouteConfiguration {
  const base = routeToCluster(service);
  const routes = hooks.httpRoutes(outboundClusterName, PROTOCOL_FOR_PROXYLESS);
  return RouteConfiguration.fromPartial({ ...base, virtualHosts: [{ ...base.virtualHosts[0]!, routes }] });
}

const hash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 24);

const sameList = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const sameLists = (a: readonly (readonly unknown[])[], b: readonly (readonly unknown[])[]): boolean => a.length === b.length && a.every((x, i) => sameList(x, b[i]!));
