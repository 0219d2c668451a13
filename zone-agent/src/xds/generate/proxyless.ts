/**
 * Resources for proxyless gRPC clients (pure). A client dialing `xds:///<service>` asks for the Listener
 * `<service>`; for every service of its mesh it gets:
 * - Listener `<service>` with an `api_listener` holding an HttpConnectionManager: router filter only, routes
 *   over RDS (ADS) from RouteConfiguration `<service>`;
 * - RouteConfiguration `<service>`: one virtual host for any authority, every path to cluster `<service>`;
 * - Cluster `<service>`: EDS over ADS, round robin (gRPC wraps it in weighted localities);
 * - ClusterLoadAssignment `<service>`: one locality per zone, priority 0, each with `load_balancing_weight`
 *   (gRPC needs it on every locality) = the sum of its endpoints' weights, so traffic spreads over
 *   instances as Kuma's default (not locality-aware) load balancing does.
 *
 * Plaintext only: mTLS for proxyless clients (xDS credentials, certificate providers) comes later.
 */
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { ApiVersion, ConfigSource } from '@ursa/proto/gen/envoy/config/core/v3/config_source.js';
import { HealthStatus } from '@ursa/proto/gen/envoy/config/core/v3/health_check.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import { Router } from '@ursa/proto/gen/envoy/extensions/filters/http/router/v3/router.js';
import {
  HttpConnectionManager,
  HttpConnectionManager_CodecType,
} from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { packAny } from '../hash.js';
import type { SnapshotInput } from '../snapshot.js';
import { HCM_TYPE_URL, ROUTER_TYPE_URL } from '../type-urls.js';
import type { ServiceEndpoints } from './endpoints.js';

const CONNECT_TIMEOUT = { seconds: 5, nanos: 0 };

const adsSource = (): ConfigSource => ConfigSource.fromPartial({ configSourceSpecifier: { $case: 'ads', value: {} }, resourceApiVersion: ApiVersion.V3 });

export function apiListener(service: string): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    codecType: HttpConnectionManager_CodecType.AUTO,
    statPrefix: service,
    routeSpecifier: { $case: 'rds', value: { configSource: adsSource(), routeConfigName: service } },
    httpFilters: [{ name: 'envoy.filters.http.router', configType: { $case: 'typedConfig', value: packAny(ROUTER_TYPE_URL, Router, Router.fromPartial({})) } }],
  });
  return Listener.fromPartial({ name: service, apiListener: { apiListener: packAny(HCM_TYPE_URL, HttpConnectionManager, hcm) } });
}

export function routeToCluster(service: string): RouteConfiguration {
  return RouteConfiguration.fromPartial({
    name: service,
    virtualHosts: [
      {
        name: service,
        domains: ['*'],
        routes: [{ match: { pathSpecifier: { $case: 'prefix', value: '' } }, action: { $case: 'route', value: { clusterSpecifier: { $case: 'cluster', value: service } } } }],
      },
    ],
  });
}

export function edsCluster(service: string): Cluster {
  return Cluster.fromPartial({
    name: service,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: adsSource(), serviceName: service },
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
    connectTimeout: CONNECT_TIMEOUT,
  });
}

export function loadAssignment(s: ServiceEndpoints): ClusterLoadAssignment {
  const seen = new Set<string>();
  const endpoints = s.zones.flatMap((z) => {
    const eps = z.endpoints.filter((e) => {
      const key = `${e.address}:${e.port}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (eps.length === 0) return [];
    return [
      {
        locality: { region: '', zone: z.zone, subZone: '' },
        loadBalancingWeight: eps.reduce((sum, e) => sum + e.weight, 0),
        priority: 0,
        lbEndpoints: eps.map((e) => ({
          hostIdentifier: { $case: 'endpoint' as const, value: { address: { address: { $case: 'socketAddress' as const, value: { address: e.address, portSpecifier: { $case: 'portValue' as const, value: e.port } } } } } },
          healthStatus: HealthStatus.HEALTHY,
          loadBalancingWeight: e.weight,
        })),
      },
    ];
  });
  return ClusterLoadAssignment.fromPartial({ clusterName: s.service, endpoints });
}

/** Every proxyless resource for the services of one mesh. */
export function proxylessResources(services: ReadonlyMap<string, ServiceEndpoints>): Required<Omit<SnapshotInput, "secrets">> {
  const list = [...services.values()];
  return {
    clusters: list.map((s) => edsCluster(s.service)),
    endpoints: list.map(loadAssignment),
    listeners: list.map((s) => apiListener(s.service)),
    routes: list.map((s) => routeToCluster(s.service)),
  };
}
