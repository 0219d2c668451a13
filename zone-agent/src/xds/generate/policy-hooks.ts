/**
 * The bridge from the policy engine (`../policy/index.ts`, another module's job: matching, merging, Envoy
 * fragments) to the generator's hook points (`sidecar.ts` `OutboundHooks` / `InboundHooks`, locality in
 * `eds.ts`). Nothing here decides what a policy means.
 *
 * `outboundKey` groups proxies: two proxies of a mesh selected by the same policies get the same outbound
 * configuration, so the generator builds each destination's cluster, endpoints and VIP listeners once per
 * group (with only default policies: once per mesh), not once per proxy.
 */
import { applyHcmTimeouts, decorateCluster, httpRoutes, inboundNetworkRbacFilters, inboundRbacFilters, localityPlan, matchPolicies, tcpClusterSpecifier } from '../policy/index.js';
import type { MatchedPolicies, OutboundPolicies, PolicyResource } from '../policy/index.js';
import type { DataplaneResource } from '../../model/dataplane.js';
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
}

export function proxyPolicies(opts: { mesh: MeshModel; zone: string; dataplane: DataplaneResource; policies: readonly PolicyResource[] }): ProxyPolicies {
  const matched = matchPolicies({ mesh: opts.mesh.name, zone: opts.zone, dataplane: opts.dataplane, policies: opts.policies });
  const outboundKey = keyOf(matched);
  return {
    matched,
    outboundKey,
    outbound: (service) => outboundHooks(matched.outbound(service)),
    inbound: (port) => {
      const conf = matched.inbound(port);
      const rbac = { mesh: opts.mesh.name, mtls: opts.mesh.mtls !== undefined };
      return {
        httpFilters: () => inboundRbacFilters(conf, rbac),
        // TCP inbounds: the same MeshTrafficPermission decisions, per connection, before tcp_proxy.
        networkFilters: () => inboundNetworkRbacFilters(conf, { ...rbac, statPrefix: `inbound_${port}.` }),
        decorateHcm: (hcm) => applyHcmTimeouts(hcm, conf.timeout),
      };
    },
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
