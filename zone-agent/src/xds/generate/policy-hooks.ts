/**
 * The bridge from the policy engine (`../policy/index.ts`, another module's job: matching, merging, Envoy
 * fragments) to the generator's hook points (`sidecar.ts` `OutboundHooks` / `InboundHooks`, locality in
 * `eds.ts`). Nothing here decides what a policy means.
 *
 * `outboundKey` groups proxies: two proxies of a mesh selected by the same policies get the same outbound
 * configuration, so the generator builds each destination's cluster, endpoints and VIP listeners once per
 * group (with only default policies: once per mesh), not once per proxy.
 */
import type { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import {
  accessLogClusters,
  accessLogSocketPath,
  applyHcmAccessLog,
  applyHcmTimeouts,
  applyHcmTracing,
  applyRateLimitRoutes,
  applyTcpAccessLog,
  decorateCluster,
  httpRoutes,
  inboundFaultFilters,
  inboundNetworkRbacFilters,
  inboundRateLimitHttpFilters,
  inboundRateLimitNetworkFilters,
  inboundRbacFilters,
  localityPlan,
  matchPolicies,
  tcpClusterSpecifier,
  traceClusters,
  type AccessLogConf,
  type AccessLogValues,
} from '../policy/index.js';
import type { MatchedPolicies, OutboundPolicies, PolicyResource } from '../policy/index.js';
import { dataplaneOf, type DataplaneResource } from '../../model/dataplane.js';
import { localFirst } from './eds.js';
import type { MeshModel } from './model.js';
import type { InboundHooks, OutboundHooks } from './sidecar.js';

export interface Locality {
  /** Equal keys give equal priorities. */
  readonly key: string;
  /** undefined: not locality-aware (every zone at priority 0). */
  readonly priorityOf?: (zone: string) => number | undefined;
}

export interface ProxyPolicies {
  readonly matched: MatchedPolicies;
  readonly outboundKey: string;
  outbound(service: string): OutboundHooks;
  inbound(port: number): InboundHooks;
  locality(service: string): Locality;
  /** Clusters of the telemetry collectors the proxy's MeshTrace / MeshAccessLog backends send to. */
  collectorClusters(): Cluster[];
}

export function proxyPolicies(opts: { mesh: MeshModel; zone: string; dataplane: DataplaneResource; policies: readonly PolicyResource[] }): ProxyPolicies {
  const matched = matchPolicies({ mesh: opts.mesh.name, zone: opts.zone, dataplane: opts.dataplane, policies: opts.policies });
  const outboundKey = keyOf(matched);
  const dp = dataplaneOf(opts.dataplane);
  const mesh = opts.mesh.name;
  const self = dp.inbounds[0]?.service ?? 'unknown';
  const trace = () => matched.proxyWide().trace;
  // Kuma's values for its access log placeholders; the client of an inbound is not known in advance.
  const logValues = (http: boolean, direction: 'INBOUND' | 'OUTBOUND', destination: string): AccessLogValues => ({
    http,
    direction,
    mesh,
    zone: opts.zone,
    sourceIp: dp.address,
    sourceService: direction === 'INBOUND' ? 'unknown' : self,
    destinationService: destination,
    socketPath: accessLogSocketPath(opts.dataplane.name, mesh),
  });
  return {
    matched,
    outboundKey,
    outbound: (service) => {
      const out = matched.outbound(service);
      return {
        ...outboundHooks(out),
        decorateHcm: (hcm) => applyHcmTracing(applyHcmAccessLog(hcm, out.accessLog, logValues(true, 'OUTBOUND', service)), trace(), { direction: 'OUTBOUND', service: self, destination: service, mesh, zone: opts.zone }),
        decorateTcpProxy: (tcp) => applyTcpAccessLog(tcp, out.accessLog, logValues(false, 'OUTBOUND', service)),
      };
    },
    inbound: (port) => {
      const conf = matched.inbound(port);
      const rbac = { mesh, mtls: opts.mesh.mtls !== undefined };
      return {
        // Kuma's order: access control first, then faults, then the rate limit, then the router.
        httpFilters: () => [...inboundRbacFilters(conf, rbac), ...inboundFaultFilters(conf), ...inboundRateLimitHttpFilters(conf)],
        // TCP inbounds: the connection rate limit first (Kuma prepends it), then the same MeshTrafficPermission
        // decisions, per connection, before tcp_proxy.
        networkFilters: () => [...inboundRateLimitNetworkFilters(conf), ...inboundNetworkRbacFilters(conf, { ...rbac, statPrefix: `inbound_${port}.` })],
        decorateHcm: (hcm) =>
          applyHcmTracing(applyHcmAccessLog(applyRateLimitRoutes(applyHcmTimeouts(hcm, conf.timeout), conf), conf.accessLog, logValues(true, 'INBOUND', conf.service)), trace(), {
            direction: 'INBOUND',
            service: conf.service,
            mesh,
            zone: opts.zone,
          }),
        decorateTcpProxy: (tcp) => applyTcpAccessLog(tcp, conf.accessLog, logValues(false, 'INBOUND', conf.service)),
      };
    },
    collectorClusters: () => [...traceClusters(trace()), ...accessLogClusters(matched.defaults('MeshAccessLog') as AccessLogConf[])],
    locality: (service) => {
      const out = matched.outbound(service);
      const awareness = out.loadBalancing?.localityAwareness;
      if (awareness?.disabled === true) return { key: 'flat' };
      const plan = localityPlan(out, opts.zone);
      if (plan.localityAware) return { key: `policy:${outboundKey}`, priorityOf: (zone) => plan.priorityOf(zone) };
      if (opts.mesh.localityAware) return { key: 'local-first', priorityOf: localFirst(opts.zone) };
      return { key: 'flat' };
    },
  };
}

function outboundHooks(out: OutboundPolicies): OutboundHooks {
  // Route backends are named by service; a tagged subset (MeshServiceSubset) goes to the whole service
  // until subset clusters are generated.
  const backends = new Set<string>();
  for (const rule of out.httpRules) for (const b of rule.default.backendRefs ?? []) if (b.name) backends.add(b.name);
  for (const b of out.tcpRule?.default.backendRefs ?? []) if (b.name) backends.add(b.name);
  backends.delete(out.service);
  return {
    decorateCluster: (cluster, protocol) => decorateCluster(cluster, out, { protocol }),
    httpRoutes: (clusterFor, protocol) => httpRoutes(out, (b) => clusterFor(b.service), { protocol }),
    tcpClusterSpecifier: (clusterFor) => tcpClusterSpecifier(out, (b) => clusterFor(b.service)),
    backendServices: [...backends].sort(),
  };
}

/** The engine's own key when it has one, else the proxy-level matches (kind, name, top-level targetRef). */
function keyOf(matched: MatchedPolicies): string {
  const own = (matched as unknown as { outboundKey?: unknown }).outboundKey;
  if (typeof own === 'string') return own;
  return JSON.stringify(matched.inspect([]).policies.map((p) => [p.kind, p.name, p.topLevel]));
}
