/**
 * The zone egress's path for proxyless gRPC clients (pure; Ursa's own, Kuma has no proxyless clients).
 *
 * A grpc-js-xds client speaks plaintext HTTP/2, sends no SNI and presents no certificate, so with mesh mTLS
 * on it can use neither the SNI-routed mTLS chains of ingresses and egresses nor a sidecar's inbound, which
 * requires a client certificate from the mesh CA (`tls.ts`; Ursa models no permissive mode: Kuma 2.14 has
 * one, MeshTLS `mode: Permissive`, which Ursa does not implement, so every inbound is strict). When its
 * mesh routes through the zone egress (`routing.zoneEgress`, mTLS on) and the zone has an egress, every
 * endpoint of its clusters, local or remote, is the egress address (`proxylessClientEndpoints`); otherwise
 * an mTLS mesh's endpoints are withheld from it (`proxyless-snapshot.ts`). The egress's listener has one
 * more filter chain, matched on `transport_protocol: raw_buffer` (the TLS inspector tells plaintext from
 * TLS): an HTTP/2 HttpConnectionManager with a virtual host per service of the mesh, by the name the client
 * sends as `:authority` (the service: it dials `xds:///<service>`), routing to cluster
 * `proxyless:<mesh>:<service>`. That cluster originates mesh mTLS as a sidecar's outbound cluster does (SNI
 * `<service>{mesh=<mesh>}`, the server verified as `spiffe://<mesh>/<service>`), presenting the egress's own
 * identity `spiffe://<mesh>/zone-egress`, to the service's endpoints: this zone's sidecars (their inbound
 * address) and other zones' ingresses (`proxyless:<mesh>:<service>` ClusterLoadAssignment), spread as a
 * sidecar's cluster is without policies (flat by instance count; local first when the mesh has
 * `localityAwareLoadBalancing`). The client cannot tell the egress which zone it picked, so the egress picks.
 *
 * The plaintext chain cannot tell meshes apart (no SNI, no client certificate), so a service name that has
 * instances in two such meshes gets no virtual host, and its proxyless clients get no endpoint for it
 * (`proxylessEgressNames`).
 */
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import type { FilterChain } from '@ursa/proto/gen/envoy/config/listener/v3/listener_components.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import { HttpConnectionManager_CodecType } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import type { MeshResource } from '../../model/resources.js';
import { localEgressEndpoints, routesThroughEgress } from './egress-route.js';
import { meshEndpoints, type ServiceEndpoint, type ServiceEndpoints } from './endpoints.js';
import { loadAssignmentFor, localFirst } from './eds.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { edsCluster, hcmFilter, http2Options } from './envoy.js';
import type { IngressService } from './ingress.js';
import { meshModel, secretPem } from './model.js';
import { outboundTls } from './tls.js';
import type { GenerationInput } from './types.js';

export const PROXYLESS_EGRESS_CHAIN = 'proxyless-plaintext';
export const proxylessEgressClusterName = (mesh: string, service: string): string => `proxyless:${mesh}:${service}`;

/** The mesh's CA certificate and key, when its mTLS is on and both Secrets are there. */
export function meshCa(input: Pick<GenerationInput, 'secrets'>, m: MeshResource): { certPem: string; keyPem: string } | undefined {
  const mtls = meshModel(m).mtls;
  if (!mtls) return undefined;
  const secret = (name: string) => input.secrets.find((s) => s.mesh === m.name && s.name === name);
  const certPem = secretPem(secret(mtls.certSecret));
  const keyPem = secretPem(secret(mtls.keySecret));
  return certPem && keyPem ? { certPem, keyPem } : undefined;
}

/** Every service of another zone in meshes routed through the egress, with those zones' endpoints, sorted. */
export function egressRemoteServices(input: GenerationInput): IngressService[] {
  const services: IngressService[] = [];
  for (const m of input.meshes) {
    if (!routesThroughEgress(m)) continue;
    const all = meshEndpoints({ mesh: m.name, zone: input.zone, dataplanes: [], zoneIngresses: input.zoneIngresses });
    for (const [service, endpoints] of all) {
      const remote = endpoints.zones.filter((z) => z.zone !== input.zone);
      if (remote.length > 0) services.push({ mesh: m.name, service, endpoints: { service, zones: remote } });
    }
  }
  return services.sort((a, b) => (a.mesh + '\u0000' + a.service < b.mesh + '\u0000' + b.service ? -1 : 1));
}

/** A service the egress's plaintext chain may serve: every endpoint of it (this zone's sidecars, other zones' ingresses). */
export interface ProxylessEgressService {
  readonly mesh: string;
  readonly service: string;
  readonly endpoints: ServiceEndpoints;
}

/** Every service of the meshes routed through the egress, with all its endpoints, sorted. */
export function egressProxylessServices(input: GenerationInput): ProxylessEgressService[] {
  const out: ProxylessEgressService[] = [];
  for (const m of input.meshes) {
    if (!routesThroughEgress(m)) continue;
    for (const [service, endpoints] of meshEndpoints({ mesh: m.name, zone: input.zone, dataplanes: input.dataplanes, zoneIngresses: input.zoneIngresses })) out.push({ mesh: m.name, service, endpoints });
  }
  return out.sort((a, b) => (a.mesh + '\u0000' + a.service < b.mesh + '\u0000' + b.service ? -1 : 1));
}

/**
 * Per mesh, the services the egress's plaintext chain serves: services of meshes routed through a zone
 * that has an egress with an address, whose CA is there (the egress needs its certificate of the mesh), and
 * whose name has instances in no other such mesh.
 */
export function proxylessEgressNames(input: GenerationInput, services?: readonly { mesh: string; service: string }[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  // Checked first: without an egress nothing else is worth a pass over the zone's Dataplanes.
  if (localEgressEndpoints(input.zoneEgresses ?? []).length === 0) return out;
  const all = services ?? egressProxylessServices(input);
  const withCa = new Set(input.meshes.filter((m) => meshCa(input, m) !== undefined).map((m) => m.name));
  const meshesOf = new Map<string, number>();
  for (const s of all) meshesOf.set(s.service, (meshesOf.get(s.service) ?? 0) + 1);
  for (const s of all) {
    if (!withCa.has(s.mesh) || meshesOf.get(s.service) !== 1) continue;
    let set = out.get(s.mesh);
    if (!set) out.set(s.mesh, (set = new Set()));
    set.add(s.service);
  }
  return out;
}

/**
 * What a proxyless client of a mesh routed through the egress gets for a service the egress serves: the
 * egress addresses, in this zone's locality when the service has instances here (the egress spreads over
 * them and the other zones), else in the other zones' localities as `throughEgress` already made them.
 */
export function proxylessClientEndpoints(s: ServiceEndpoints | undefined, localZone: string, egress: readonly ServiceEndpoint[]): ServiceEndpoints | undefined {
  if (!s || egress.length === 0) return undefined;
  if (!s.zones.some((z) => z.zone === localZone)) return s;
  return { service: s.service, zones: [{ zone: localZone, endpoints: egress, weight: egress.length }] };
}

/** The cluster a virtual host routes to: HTTP/2, mesh mTLS as the egress, to the service's sidecars and ingresses. */
export function proxylessEgressCluster(mesh: string, service: string): Cluster {
  return edsCluster(proxylessEgressClusterName(mesh, service), {
    transportSocket: outboundTls(mesh, service),
    typedExtensionProtocolOptions: http2Options(),
  });
}

/** The endpoints of `proxylessEgressCluster`: flat by instance count, or local first in a locality-aware mesh. */
export function proxylessEgressLoadAssignment(s: ProxylessEgressService, localZone: string, localityAware: boolean): ClusterLoadAssignment {
  return loadAssignmentFor(proxylessEgressClusterName(s.mesh, s.service), s.endpoints, { localZone, includeRemote: true, priorityOf: localityAware ? localFirst(localZone) : undefined });
}

/** The plaintext filter chain (after the TLS chains: Envoy picks by `transport_protocol`, not order). */
export function proxylessEgressChain(services: readonly { mesh: string; service: string }[]): FilterChain {
  const route = RouteConfiguration.fromPartial({
    name: PROXYLESS_EGRESS_CHAIN,
    virtualHosts: services.map((s) => ({
      name: `${s.mesh}:${s.service}`,
      domains: [s.service],
      // No route timeout: a gRPC stream lasts as long as the client keeps it.
      routes: [{ match: { pathSpecifier: { $case: 'prefix', value: '' } }, action: { $case: 'route', value: { clusterSpecifier: { $case: 'cluster', value: proxylessEgressClusterName(s.mesh, s.service) }, timeout: { seconds: 0, nanos: 0 } } } }],
    })),
  });
  const filter = hcmFilter(PROXYLESS_EGRESS_CHAIN, route, [], (h) => ({ ...h, codecType: HttpConnectionManager_CodecType.HTTP2 }));
  return { name: PROXYLESS_EGRESS_CHAIN, filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [filter] } as unknown as FilterChain;
}
