/**
 * DNS in the proxy, as Kuma 2.14 serves it to kuma-dp (`pkg/xds/generator/dns_generator.go`,
 * `pkg/xds/dynconf/listener.go`, `pkg/dns/dpapi`): a transparent-proxy sidecar gets its mesh's VIP table as
 * a route of the "dynamic config" listener `_kuma:dynamicconfig`, an HTTP listener on the unix socket
 * `<workdir>/kuma-mesh-metric-config.sock` (kuma-dp's work dir, from the node metadata `workdir`) that
 * answers `GET /dns` with the JSON kuma-dp's embedded DNS server loads:
 * `{"records":[{"name":"web.mesh","ips":["240.0.0.1"]},...],"ttl":30,"extraLabels":{"mesh":"default"}}`,
 * an `Etag` (SHA-256 of the body, hex) and a 304 when kuma-dp sends it back as `If-None-Match`. So names are
 * answered next to the workload and keep resolving while the zone agent restarts.
 *
 * Names are the ones the agent's own resolver answers (`dns/records.ts`): `<service>.mesh` and its dotted
 * alias, and `<name>.extsvc.mesh.local` for a MeshExternalService with a VIP; IPv4 only (Kuma adds the IPv4-mapped IPv6 address when the proxy has IPv6 on). A plain Envoy
 * serves this listener on the socket too, and nothing reads it: Ursa does not emit the pre-2.x UDP
 * `envoy.filters.udp.dns_filter` listener (README "DNS in the proxy").
 */
import { createHash } from 'node:crypto';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import { Router } from '@ursa/proto/gen/envoy/extensions/filters/http/router/v3/router.js';
import { HttpConnectionManager, HttpConnectionManager_CodecType } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { externalServiceHostname } from '../../dns/external-services.js';
import { dottedAlias, isEncodableName } from '../../dns/records.js';
import { packAny } from '../hash.js';
import { HCM_TYPE_URL, ROUTER_TYPE_URL } from '../type-urls.js';
import { typedFilter } from './envoy.js';

export const DYNAMIC_CONFIG_LISTENER = '_kuma:dynamicconfig';
/** kuma-dp's `dpapi.PATH`. */
export const DNS_PATH = '/dns';
/** Kuma's TTL for these records (30 s, so a re-allocated VIP is not cached for long). */
export const PROXY_DNS_TTL = 30;

export interface ProxyDnsRecord {
  readonly name: string;
  readonly ips: readonly string[];
}

/** kuma-dp's socket for the dynamic config listener (Kuma `MeshMetricsDynamicConfigurationSocketName`). */
export function dynamicConfigSocket(workDir: string | undefined): string {
  const base = workDir ? `${workDir.replace(/\/+$/, '')}/kuma-mesh-metric-config` : 'kuma-mesh-metric-config';
  // Kuma trims to fit the 104-byte unix socket path limit.
  return `${base.slice(0, 98)}.sock`;
}

/**
 * The records of a mesh's VIP table, by name; an exact `<service>.mesh` wins over another service's alias.
 * MeshExternalServices (`external`) are `<name>.extsvc.mesh.local`, a name no service record can take.
 */
export function proxyDnsRecords(vips: ReadonlyMap<string, string>, external: readonly { readonly name: string; readonly vip: string }[] = []): ProxyDnsRecord[] {
  const byName = new Map<string, string>();
  for (const e of external) if (isEncodableName(externalServiceHostname(e.name))) byName.set(externalServiceHostname(e.name), e.vip);
  for (const [service, vip] of vips) {
    const alias = `${dottedAlias(service)}.mesh`;
    if (alias !== `${service}.mesh` && isEncodableName(alias) && !byName.has(alias)) byName.set(alias, vip);
  }
  for (const [service, vip] of vips) if (isEncodableName(`${service}.mesh`)) byName.set(`${service}.mesh`, vip);
  return [...byName.keys()].sort().map((name) => ({ name, ips: [byName.get(name)!] }));
}

/** The body kuma-dp reads (`dpapi.DNSProxyConfig`, Go's field order). */
export function proxyDnsBody(records: readonly ProxyDnsRecord[], extraLabels: Readonly<Record<string, string>>): string {
  const labels = Object.fromEntries(Object.keys(extraLabels).sort().map((k) => [k, extraLabels[k]!]));
  return JSON.stringify({ records, ttl: PROXY_DNS_TTL, ...(Object.keys(labels).length > 0 ? { extraLabels: labels } : {}) });
}

/** The `_kuma:dynamicconfig` listener serving `body` at `/dns`. */
export function dynamicConfigListener(body: string, socketPath: string): Listener {
  const etag = createHash('sha256').update(body).digest('hex');
  const routes = RouteConfiguration.fromPartial({
    maxDirectResponseBodySizeBytes: Buffer.byteLength(body),
    virtualHosts: [
      {
        name: DYNAMIC_CONFIG_LISTENER,
        domains: ['*'],
        routes: [
          {
            match: { pathSpecifier: { $case: 'path', value: DNS_PATH }, headers: [{ name: 'If-None-Match', headerMatchSpecifier: { $case: 'stringMatch', value: { matchPattern: { $case: 'exact', value: etag } } } }] },
            action: { $case: 'directResponse', value: { status: 304 } },
          },
          {
            name: `${DYNAMIC_CONFIG_LISTENER}:${DNS_PATH}`,
            match: { pathSpecifier: { $case: 'path', value: DNS_PATH } },
            responseHeadersToAdd: [{ header: { key: 'Etag', value: etag } }],
            action: { $case: 'directResponse', value: { status: 200, body: { specifier: { $case: 'inlineString', value: body } } } },
          },
        ],
      },
    ],
  });
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: '_kuma_dynamicconfig',
    codecType: HttpConnectionManager_CodecType.AUTO,
    routeSpecifier: { $case: 'routeConfig', value: routes },
    httpFilters: [{ name: 'envoy.filters.http.router', configType: { $case: 'typedConfig', value: packAny(ROUTER_TYPE_URL, Router, Router.fromPartial({})) } }],
    internalAddressConfig: { unixSockets: false, cidrRanges: [{ addressPrefix: '127.0.0.1', prefixLen: 32 }] },
  });
  const any = packAny(HCM_TYPE_URL, HttpConnectionManager, hcm);
  return Listener.fromPartial({
    name: DYNAMIC_CONFIG_LISTENER,
    address: { address: { $case: 'pipe', value: { path: socketPath, mode: 0 } } },
    filterChains: [{ filters: [typedFilter('envoy.filters.network.http_connection_manager', any.typeUrl, any.value as Buffer)] }],
  });
}
