/**
 * Service endpoints of a mesh, as the zone sees them (pure; Kuma `pkg/xds/topology/outbound.go`
 * `BuildEdsEndpointMap` without locality-aware routing):
 * - local: every healthy inbound (`ingress/available.ts` `isHealthyInbound`) with a `kuma.io/service` tag
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
import { isHealthyInbound, isLocal, SERVICE_TAG, type ResourceLike } from '../../ingress/available.js';

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
  readonly dataplanes: readonly ResourceLike[];
  /** The zone's ZoneIngresses, its own and other zones' copies. */
  readonly zoneIngresses: readonly ResourceLike[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0);
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

  for (const dp of input.dataplanes) {
    if (dp.mesh !== input.mesh || !isLocal(dp)) continue;
    const networking = dp.spec.networking;
    if (!isRecord(networking) || !Array.isArray(networking.inbound)) continue;
    for (const inbound of networking.inbound as unknown[]) {
      if (!isRecord(inbound) || !isHealthyInbound(inbound)) continue;
      const service = isRecord(inbound.tags) ? str(inbound.tags[SERVICE_TAG]) : '';
      const address = str(inbound.address) || str(networking.address);
      const port = num(inbound.port);
      if (service === '' || address === '' || port <= 0 || port > 65535) continue;
      add(service, input.zone, { address, port, weight: 1 });
    }
  }

  // Ingresses behind one load balancer advertise one address: count it once (Kuma dedupes them too), the
  // first in name order with services, so the choice does not depend on the input order.
  const seenIngress = new Set<string>();
  const ingresses = [...input.zoneIngresses].sort((a, b) => cmp(a.name, b.name));
  for (const zi of ingresses) {
    if (isLocal(zi)) continue;
    const zone = str(zi.spec.zone);
    if (zone === '' || zone === input.zone) continue;
    const n = isRecord(zi.spec.networking) ? zi.spec.networking : {};
    const address = str(n.advertisedAddress) || str(n.address);
    const port = num(n.advertisedPort) || num(n.port);
    if (address === '' || port <= 0 || port > 65535) continue;
    const available = Array.isArray(zi.spec.availableServices) ? zi.spec.availableServices : [];
    if (available.length === 0) continue;
    if (seenIngress.has(`${zone}\u0000${address}:${port}`)) continue;
    seenIngress.add(`${zone}\u0000${address}:${port}`);
    for (const a of available) {
      if (!isRecord(a) || a.mesh !== input.mesh || !isRecord(a.tags)) continue;
      const service = str(a.tags[SERVICE_TAG]);
      if (service === '') continue;
      add(service, zone, { address, port, weight: Math.max(1, num(a.instances)) });
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
