/**
 * MeshExternalService in xDS (pure; Kuma `pkg/xds/topology/outbound.go` `createMeshExternalServiceEndpoint`
 * / `fillExternalServicesOutboundsThroughEgress`, `pkg/plugins/policies/core/xds/meshroute/clusters.go`,
 * `pkg/xds/generator/egress/external_services_generator.go`), with Kuma 2.14's legacy names:
 * - cluster `<mesh>_<name>___extsvc_<port>` (Kuma's `<mesh>_<name>_<namespace>_<zone>_extsvc_<port>`, with no
 *   namespace on Universal and no zone for a zone's own or a global resource);
 * - SNI `a<fnv64a(name;mesh;)>.<name>.<port>.<mesh>.mes` (Kuma's `SNIForResource`), what the sidecar sends
 *   to the zone egress and the egress matches its filter chain on.
 * With mesh mTLS on, a sidecar always reaches a MeshExternalService through its zone's egresses, as in Kuma
 * (whatever `routing.zoneEgress` says; no egress in the zone: no endpoints): an EDS cluster of the local
 * egress addresses, mTLS with the proxy's identity, verifying `spiffe://<mesh>/zone-egress`, ALPN `kuma`.
 * The egress terminates that mTLS (its certificate of the mesh) and originates the connection to the
 * service's endpoints, with TLS per `spec.tls`. With mTLS off (where Kuma has no working path: its egress
 * routes by the SNI only mTLS carries) the sidecar gets the egress's cluster itself and goes direct.
 * MeshExternalServices with an `extension` are skipped (Kuma hands them to the extension).
 */
import { Cluster, Cluster_DiscoveryType, Cluster_DnsLookupFamily, Cluster_LbPolicy } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import type { TransportSocket } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import type { DataSource } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import type { FilterChain } from '@ursa/proto/gen/envoy/config/listener/v3/listener_components.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import type { Route } from '@ursa/proto/gen/envoy/config/route/v3/route_components.js';
import { SubjectAltNameMatcher_SanType, TlsParameters_TlsProtocol } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/common.js';
import { UpstreamTlsContext, type CommonTlsContext, type DeepPartial } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { HttpProtocolOptions } from '@ursa/proto/gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js';
import { isIP as ipVersion } from 'node:net';
import { fnv1a64 } from '@ursa/core';
import type { MeshExternalServiceResource, SecretResource } from '../../model/resources.js';
import { encodeCanonical, packAny } from '../hash.js';
import { HTTP_PROTOCOL_OPTIONS_TYPE_URL, UPSTREAM_TLS_TYPE_URL } from '../type-urls.js';
import type { ServiceEndpoint } from './endpoints.js';
import { CONNECT_TIMEOUT, edsCluster, hcmFilter, HTTP_PROTOCOL_OPTIONS_KEY, http2Options, socketAddress, tcpProxyFilter, tlsTransportSocket } from './envoy.js';
import type { OutboundHooks } from './sidecar.js';
import { egressTls, inboundTls } from './tls.js';
import type { Protocol } from './model.js';

const isIP = (s: string): boolean => ipVersion(s) !== 0;

/** Where kuma-dp's Envoy finds the system trust store when `spec.tls` names no CA (Kuma: `systemCaPath`). */
export const SYSTEM_CA_PATH = '/etc/ssl/certs/ca-certificates.crt';

type Spec = MeshExternalServiceResource['spec'];
type TlsSpec = NonNullable<Spec['tls']>;

/** One MeshExternalService as generation reads it. `key`: everything its resources depend on. */
export interface ExternalServiceModel {
  readonly mesh: string;
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly cluster: string;
  readonly sni: string;
  readonly endpoints: readonly { address: string; port: number; priority: number }[];
  /** The upstream TLS to the service's endpoints (undefined: plain TCP). */
  readonly tls?: TransportSocket;
  readonly key: string;
}

export const externalServiceClusterName = (mesh: string, name: string, port: number): string => `${mesh}_${name}___extsvc_${port}`;

/** Kuma's `SNIForResource` for a MeshExternalService (FNV-1a 64 of `name;mesh;`, DNS labels capped at 63). */
export function externalServiceSni(mesh: string, name: string, port: number): string {
  const h = fnv1a64(`${name};${mesh};`);
  const label = (s: string) => (s.length > 62 ? `${s.slice(0, 62)}x` : s);
  return `a${h.toString(16).padStart(16, '0')}.${label(name)}.${port}.${label(mesh)}.mes`;
}

/**
 * The MeshExternalServices of `mesh`, sorted by name. One whose TLS names a Secret that is not there is left
 * out, as Kuma leaves its endpoint out ("Endpoint won't be included in the XDS").
 */
export function externalServiceModels(mesh: string, all: readonly MeshExternalServiceResource[], secrets: readonly SecretResource[]): ExternalServiceModel[] {
  const out: ExternalServiceModel[] = [];
  for (const r of all) {
    if (r.mesh !== mesh || r.spec.extension) continue;
    const port = r.spec.match.port ?? 0;
    const endpoints = (r.spec.endpoints ?? []).map((e) => ({ address: e.address ?? '', port: e.port ?? 0, priority: e.priority ?? 0 }));
    let tls: TransportSocket | undefined;
    if (r.spec.tls?.enabled === true) {
      const t = upstreamTls(r.spec.tls, endpoints[0]?.address ?? '', (name) => secrets.find((s) => s.mesh === mesh && s.name === name));
      if (!t) continue;
      tls = t;
    }
    const protocol = (r.spec.match.protocol ?? 'tcp') as Protocol;
    out.push({
      mesh,
      name: r.name,
      port,
      protocol,
      cluster: externalServiceClusterName(mesh, r.name, port),
      sni: externalServiceSni(mesh, r.name, port),
      endpoints,
      tls,
      key: JSON.stringify([mesh, r.name, r.spec, tls ? Buffer.from(tls.configType?.value.value ?? []).toString('base64') : '']),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const TLS_VERSIONS: Record<string, TlsParameters_TlsProtocol> = {
  TLSAuto: TlsParameters_TlsProtocol.TLS_AUTO,
  TLS10: TlsParameters_TlsProtocol.TLSv1_0,
  TLS11: TlsParameters_TlsProtocol.TLSv1_1,
  TLS12: TlsParameters_TlsProtocol.TLSv1_2,
  TLS13: TlsParameters_TlsProtocol.TLSv1_3,
};

type SourceSpec = { secret?: string; inline?: string; inlineString?: string; file?: string };

/** Kuma's `DataSource` as Envoy's; a Secret's bytes inlined (Kuma inlines every source; a file stays a path on the proxy). */
function dataSource(src: SourceSpec, secret: (name: string) => SecretResource | undefined): DataSource | undefined | null {
  if (src.secret !== undefined) {
    const data = secret(src.secret)?.spec.data;
    return data === undefined ? null : { specifier: { $case: 'inlineBytes', value: Buffer.from(data, 'base64') } };
  }
  if (src.inline !== undefined) return { specifier: { $case: 'inlineBytes', value: Buffer.from(src.inline, 'base64') } };
  if (src.inlineString !== undefined) return { specifier: { $case: 'inlineString', value: src.inlineString } };
  if (src.file !== undefined) return { specifier: { $case: 'filename', value: src.file } };
  return undefined;
}

/**
 * TLS origination per `spec.tls` (Kuma `setTlsConfiguration` + `UpstreamTlsContextOutsideMesh`): SNI from
 * `verification.serverName`, else the first endpoint when it is a hostname; the CA (else the system store)
 * verifying that name (DNS and IP SANs) and the listed SANs; a client certificate; renegotiation; versions.
 * `SkipSAN` drops the name checks, `SkipCA` the verification, `SkipAll` both and the client certificate.
 * null when a named Secret is missing.
 */
function upstreamTls(tls: TlsSpec, firstAddress: string, secret: (name: string) => SecretResource | undefined): TransportSocket | null {
  const v = tls.verification ?? {};
  const mode = v.mode ?? 'Secured';
  // Endpoints are validated as an IP or a hostname: not an IP is a hostname.
  let serverName = v.serverName ?? (firstAddress !== '' && !isIP(firstAddress) ? firstAddress : '');
  let sans = v.subjectAltNames ?? [];
  let skipHostname = false;
  let fallbackToSystem = true;
  let ca = v.caCert ? dataSource(v.caCert, secret) : undefined;
  let cert = v.clientCert && v.clientKey ? dataSource(v.clientCert, secret) : undefined;
  let key = v.clientCert && v.clientKey ? dataSource(v.clientKey, secret) : undefined;
  if (ca === null || cert === null || key === null) return null;
  if (mode === 'SkipSAN' || mode === 'SkipAll') {
    serverName = '';
    sans = [];
    skipHostname = true;
  }
  if (mode === 'SkipCA' || mode === 'SkipAll') {
    ca = undefined;
    fallbackToSystem = false;
  }
  if (mode === 'SkipAll') cert = key = undefined;
  const common: DeepPartial<CommonTlsContext> = {};
  if (cert && key) common.tlsCertificates = [{ certificateChain: cert, privateKey: key }];
  if (ca || fallbackToSystem) {
    const types = [SubjectAltNameMatcher_SanType.DNS, SubjectAltNameMatcher_SanType.IP_ADDRESS];
    const matchers = skipHostname
      ? []
      : [
          ...types.map((sanType) => ({ sanType, matcher: { matchPattern: { $case: 'exact' as const, value: serverName } } })),
          ...types.flatMap((sanType) => sans.map((s) => ({ sanType, matcher: { matchPattern: { $case: s.type === 'Prefix' ? ('prefix' as const) : ('exact' as const), value: s.value ?? '' } } }))),
        ];
    common.validationContextType = {
      $case: 'validationContext',
      value: { trustedCa: ca ?? { specifier: { $case: 'filename', value: SYSTEM_CA_PATH } }, matchTypedSubjectAltNames: matchers },
    };
    const min = tls.version?.min !== undefined ? TLS_VERSIONS[tls.version.min] : undefined;
    const max = tls.version?.max !== undefined ? TLS_VERSIONS[tls.version.max] : undefined;
    if (min !== undefined || max !== undefined) common.tlsParams = { tlsMinimumProtocolVersion: min, tlsMaximumProtocolVersion: max };
  }
  const ctx = UpstreamTlsContext.fromPartial({ sni: serverName, allowRenegotiation: tls.allowRenegotiation === true, commonTlsContext: Object.keys(common).length > 0 ? common : undefined });
  return tlsTransportSocket(UPSTREAM_TLS_TYPE_URL, encodeCanonical(UpstreamTlsContext, ctx));
}

/** HTTP/1.1 upstream (Kuma's `Http()`), HTTP/2 for http2 and gRPC, nothing for TCP. */
function protocolOptions(p: Protocol): Cluster['typedExtensionProtocolOptions'] {
  if (p === 'http2' || p === 'grpc') return http2Options();
  if (p !== 'http') return {};
  const opts = HttpProtocolOptions.fromPartial({ upstreamProtocolOptions: { $case: 'explicitHttpConfig', value: { protocolConfig: { $case: 'httpProtocolOptions', value: {} } } } });
  return { [HTTP_PROTOCOL_OPTIONS_KEY]: packAny(HTTP_PROTOCOL_OPTIONS_TYPE_URL, HttpProtocolOptions, opts) };
}

/**
 * The cluster that reaches the service itself (the egress's, or a sidecar's with mTLS off): STATIC when
 * every endpoint is an IP, else STRICT_DNS (IPv4), endpoints inline by priority (locality `priority-<n>`).
 */
export function externalServiceCluster(m: ExternalServiceModel): Cluster {
  const allIp = m.endpoints.every((e) => isIP(e.address));
  const priorities = [...new Set(m.endpoints.map((e) => e.priority))].sort((a, b) => a - b);
  return Cluster.fromPartial({
    name: m.cluster,
    clusterDiscoveryType: { $case: 'type', value: allIp ? Cluster_DiscoveryType.STATIC : Cluster_DiscoveryType.STRICT_DNS },
    dnsLookupFamily: allIp ? undefined : Cluster_DnsLookupFamily.V4_ONLY,
    connectTimeout: CONNECT_TIMEOUT,
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
    typedExtensionProtocolOptions: protocolOptions(m.protocol),
    transportSocket: m.tls,
    loadAssignment: ClusterLoadAssignment.fromPartial({
      clusterName: m.cluster,
      endpoints: priorities.map((p) => ({
        locality: { region: '', zone: '', subZone: `priority-${p}` },
        priority: p,
        lbEndpoints: m.endpoints
          .filter((e) => e.priority === p)
          .map((e) => ({ hostIdentifier: { $case: 'endpoint' as const, value: { address: socketAddress(e.address, e.port) } }, loadBalancingWeight: 1 })),
      })),
    }),
  });
}

/** A sidecar's cluster through the zone egress (EDS: `externalServiceEgressAssignment`). */
export function externalServiceEgressCluster(m: ExternalServiceModel): Cluster {
  return edsCluster(m.cluster, { transportSocket: egressTls(m.mesh, m.sni), typedExtensionProtocolOptions: protocolOptions(m.protocol) });
}

/** The zone's egresses as the endpoints of that cluster (no locality: the egress balances, as in Kuma). */
export function externalServiceEgressAssignment(m: ExternalServiceModel, egresses: readonly ServiceEndpoint[]): ClusterLoadAssignment {
  return ClusterLoadAssignment.fromPartial({
    clusterName: m.cluster,
    endpoints:
      egresses.length === 0
        ? []
        : [{ lbEndpoints: egresses.map((e) => ({ hostIdentifier: { $case: 'endpoint' as const, value: { address: socketAddress(e.address, e.port) } }, loadBalancingWeight: 1 })) }],
  });
}

const routeTo = (cluster: string, autoHostRewrite: boolean): Route[] => [
  {
    match: { pathSpecifier: { $case: 'prefix', value: '/' } },
    action: { $case: 'route', value: { clusterSpecifier: { $case: 'cluster', value: cluster }, ...(autoHostRewrite ? { hostRewriteSpecifier: { $case: 'autoHostRewrite', value: true } } : {}) } },
  } as Route,
];

/** A sidecar's outbound to a MeshExternalService: its one cluster (no policies apply yet). */
export function externalServiceHooks(m: ExternalServiceModel): OutboundHooks {
  return {
    decorateCluster: (c) => c,
    // Host rewritten to the endpoint's name, as Kuma's sidecar route does (a no-op towards an IP endpoint).
    httpRoutes: () => routeTo(m.cluster, true),
    tcpClusterSpecifier: () => ({ $case: 'cluster', value: m.cluster }),
    backendServices: [],
  };
}

/**
 * The egress's filter chain for one MeshExternalService: matched by its SNI, the sidecar's mTLS terminated
 * (any workload of the mesh, by the mesh CA), then an HTTP route (host rewritten to the endpoint, as Kuma)
 * or a TCP proxy to the service's cluster.
 */
export function externalServiceEgressChain(m: ExternalServiceModel): FilterChain {
  const http = m.protocol === 'http' || m.protocol === 'http2' || m.protocol === 'grpc';
  const filter = http
    ? hcmFilter(m.cluster, RouteConfiguration.fromPartial({ name: m.cluster, virtualHosts: [{ name: m.cluster, domains: ['*'], routes: routeTo(m.cluster, true) }] }), [])
    : tcpProxyFilter(m.cluster, { $case: 'cluster', value: m.cluster });
  return { name: m.cluster, filterChainMatch: { serverNames: [m.sni], transportProtocol: 'tls' }, filters: [filter], transportSocket: inboundTls(m.mesh) } as unknown as FilterChain;
}
