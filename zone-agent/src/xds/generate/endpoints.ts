/**
 * Service endpoints of a mesh, as the zone sees them (pure; Kuma `pkg/xds/topology/outbound.go`
 * `BuildEdsEndpointMap` without locality-aware routing):
 * - local: every healthy inbound (`model/dataplane.ts` `healthyInbounds`) with a `kuma.io/service` tag
 *   of a local Dataplane of the mesh, at the inbound's `address` (else the Dataplane's `networking.address`)
 *   and the inbound `port`, weight 1, in this zone's locality;
 * - remote: for every ZoneIngress the global sent of another zone, one endpoint per service it makes
 *   available in the mesh, at its advertised address and port (else its address and port), weighted by the
 *   number of instances behind it, in that zone's locality; ingresses of one zone sharing an advertised
 *   address (replicas behind one load balancer) count once.
 *
 * Everything comes out sorted, so equal inputs always give equal (and equally versioned) resources.
 * Duplicate `address:port`s within a service are dropped (the first wins): gRPC rejects them.
 */
import { dataplaneOf, healthyInbounds, isLocal, SERVICE_TAG, type DataplaneResource } from '../../model/dataplane.js';
import type { ZoneIngressResource } from '../../model/resources.js';

export interface ServiceEndpoint {
  readonly address: string;
  readonly port: number;
  /** Instances behind this endpoint (1 for a local one). */
  readonly weight: number;
}

export interface ZoneEndpoints {
  readonly zone: string;
  /** Sorted by address, then port. */
  readonly endpoints: readonly ServiceEndpoint[];
  /** Sum of the endpoints' weights: the locality's weight. */
  readonly weight: number;
}

export interface ServiceEndpoints {
  readonly service: string;
  /** This zone first (when it has endpoints), then other zones by name. */
  readonly zones: readonly ZoneEndpoints[];
}

export interface MeshTopologyInput {
  readonly mesh: string;
  /** This zone's name. */
  readonly zone: string;
  /** The zone's Dataplanes (any mesh; others are skipped). */
  readonly dataplanes: readonly DataplaneResource[];
  /** The zone's ZoneIngresses, its own and other zones' copies. */
  readonly zoneIngresses: readonly ZoneIngressResource[];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every service of the mesh with its endpoints, by service name. */
export function meshEndpoints(input: MeshTopologyInput): Map<string, ServiceEndpoints> {
  // service -> zone -> "address:port" -> endpoint
  const acc = new Map<string, Map<string, Map<string, ServiceEndpoint>>>();
  const add = (service: string, zone: string, ep: ServiceEndpoint) => {
    let zones = acc.get(service);
    if (!zones) acc.set(service, (zones = new Map()));
    let eps = zones.get(zone);
    if (!eps) zones.set(zone, (eps = new Map()));
    const key = `${ep.address}:${ep.port}`;
    const seen = eps.get(key);
    // Two remote entries for one ingress (different tag sets of one service) add up.
    if (seen && zone !== input.zone) eps.set(key, { ...seen, weight: seen.weight + ep.weight });
    else if (!seen) eps.set(key, ep);
  };

  for (const resource of input.dataplanes) {
    if (resource.mesh !== input.mesh) continue;
    const dp = dataplaneOf(resource);
    if (!dp.local) continue;
    for (const inbound of healthyInbounds(dp)) {
      if (inbound.service !== '') add(inbound.service, input.zone, { address: inbound.address, port: inbound.port, weight: 1 });
    }
  }

  // Ingresses behind one load balancer advertise one address: count it once (Kuma dedupes them too), the
  // first in name order with services, so the choice does not depend on the input order.
  const seenIngress = new Set<string>();
  const ingresses = [...input.zoneIngresses].sort((a, b) => cmp(a.name, b.name));
  for (const zi of ingresses) {
    if (isLocal(zi)) continue;
    const zone = zi.spec.zone ?? '';
    if (zone === '' || zone === input.zone) continue;
    const n = zi.spec.networking;
    const address = n.advertisedAddress || n.address || '';
    const port = n.advertisedPort || n.port;
    if (address === '') continue;
    const available = zi.spec.availableServices ?? [];
    if (available.length === 0) continue;
    if (seenIngress.has(`${zone}\u0000${address}:${port}`)) continue;
    seenIngress.add(`${zone}\u0000${address}:${port}`);
    for (const a of available) {
      const service = a.tags[SERVICE_TAG] ?? '';
      if (a.mesh !== input.mesh || service === '') continue;
      add(service, zone, { address, port, weight: Math.max(1, a.instances ?? 0) });
    }
  }

  const out = new Map<string, ServiceEndpoints>();
  for (const service of [...acc.keys()].sort(cmp)) {
    const zones = acc.get(service)!;
    const names = [...zones.keys()].sort((a, b) => (a === input.zone ? -1 : b === input.zone ? 1 : cmp(a, b)));
    out.set(service, {
      service,
      zones: names.map((zone) => {
        const endpoints = [...zones.get(zone)!.values()].sort((a, b) => cmp(a.address, b.address) || a.port - b.port);
        return { zone, endpoints, weight: endpoints.reduce((s, e) => s + e.weight, 0) };
      }),
    });
  }
  return out;
}
