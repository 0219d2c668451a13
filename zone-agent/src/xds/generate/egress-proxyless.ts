/**
 * The zone egress's path for proxyless gRPC clients (pure; Ursa's own, Kuma has no proxyless clients).
 *
 * A grpc-js-xds client speaks plaintext HTTP/2 and sends no SNI, so it cannot use the SNI-routed mTLS
 * chains sidecars use. When its mesh routes through the zone egress (`routing.zoneEgress`, mTLS on) and the
 * zone has an egress, its cluster for a service with instances in other zones gets the egress address for
 * that part (`proxyless-snapshot.ts`), and the egress's listener has one more filter chain, matched on
 * `transport_protocol: raw_buffer` (the TLS inspector tells plaintext from TLS): an HTTP/2
 * HttpConnectionManager with a virtual host per remote service, by the name the client sends as
 * `:authority` (the service: it dials `xds:///<service>`), routing to cluster `proxyless:<mesh>:<service>`.
 * That cluster originates mesh mTLS to the other zone's ingress as a sidecar's cross-zone cluster does
 * (SNI `<service>{mesh=<mesh>}`, the server verified as `spiffe://<mesh>/<service>`), presenting the
 * egress's own identity `spiffe://<mesh>/zone-egress`; its endpoints are the egress's passthrough
 * ClusterLoadAssignment `<mesh>:<service>` (the other zones' ingresses), shared by name.
 *
 * The plaintext chain cannot tell meshes apart (no SNI, no client certificate), so a service name that is
 * remote in two such meshes gets no virtual host, and its proxyless clients keep only their zone's
 * instances (`proxylessEgressNames`).
 */
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import type { FilterChain } from '@ursa/proto/gen/envoy/config/listener/v3/listener_components.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import { HttpConnectionManager_CodecType } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import type { MeshResource } from '../../model/resources.js';
import { localEgressEndpoints, routesThroughEgress } from './egress-route.js';
import { meshEndpoints } from './endpoints.js';
import { adsSource, edsCluster, hcmFilter, http2Options } from './envoy.js';
import type { IngressService } from './ingress.js';
import { meshModel, secretPem } from './model.js';
import { ingressClusterName } from './naming.js';
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

/**
 * Per mesh, the services the egress's plaintext chain serves: remote services of meshes routed through a
 * zone that has an egress with an address, whose CA is there (the egress needs its certificate of the mesh),
 * and whose name is remote in no other such mesh.
 */
export function proxylessEgressNames(input: GenerationInput, remote: readonly IngressService[] = egressRemoteServices(input)): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  if (localEgressEndpoints(input.zoneEgresses ?? []).length === 0) return out;
  const withCa = new Set(input.meshes.filter((m) => meshCa(input, m) !== undefined).map((m) => m.name));
  const meshesOf = new Map<string, number>();
  for (const s of remote) meshesOf.set(s.service, (meshesOf.get(s.service) ?? 0) + 1);
  for (const s of remote) {
    if (!withCa.has(s.mesh) || meshesOf.get(s.service) !== 1) continue;
    let set = out.get(s.mesh);
    if (!set) out.set(s.mesh, (set = new Set()));
    set.add(s.service);
  }
  return out;
}

/** The cluster a virtual host routes to: HTTP/2, mesh mTLS as the egress, endpoints shared with the passthrough cluster. */
export function proxylessEgressCluster(mesh: string, service: string): Cluster {
  return edsCluster(proxylessEgressClusterName(mesh, service), {
    edsClusterConfig: { edsConfig: adsSource(), serviceName: ingressClusterName(mesh, service) },
    transportSocket: outboundTls(mesh, service),
    typedExtensionProtocolOptions: http2Options(),
  });
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
