/**
 * `Mesh.routing.zoneEgress: true` on the sidecar side (pure; Kuma `pkg/xds/topology/outbound.go`
 * `fillIngressOutbounds` with `routeThroughZoneEgress`): every endpoint of another zone becomes one endpoint
 * per egress of this zone (its `networking.address:port`, weight 1), keeping that zone's locality, so the
 * sidecar opens its mTLS connection (SNI unchanged, `<service>{mesh=<mesh>}`) to the local egress, which
 * passes it on to the remote zone's ingress by that SNI (`egress.ts`). With the flag on and no egress in
 * the zone, other zones are unreachable, as in Kuma: traffic never leaves the zone any other way.
 * Local endpoints are untouched.
 */
import { isLocal } from '../../model/dataplane.js';
import type { MeshResource, ZoneEgressResource } from '../../model/resources.js';
import type { ServiceEndpoint, ServiceEndpoints } from './endpoints.js';

/** Whether the mesh sends cross-zone (and external) traffic through the zone egress. Kuma needs mTLS for it. */
export const routesThroughEgress = (mesh: Pick<MeshResource, 'spec'>): boolean => mesh.spec.routing?.zoneEgress === true && (mesh.spec.mtls?.enabledBackend ?? '') !== '';

/** The zone's own egresses that have an address, as endpoints, sorted (equal inputs, equal resources). */
export function localEgressEndpoints(egresses: readonly ZoneEgressResource[]): ServiceEndpoint[] {
  const seen = new Map<string, ServiceEndpoint>();
  for (const ze of egresses) {
    if (!isLocal(ze)) continue;
    const address = ze.spec.networking.address ?? '';
    const port = ze.spec.networking.port;
    if (address === '' || !(port > 0)) continue;
    seen.set(`${address}:${port}`, { address, port, weight: 1 });
  }
  return [...seen.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}

/** `services` with every other zone's endpoints replaced by the local egresses. */
export function throughEgress(services: ReadonlyMap<string, ServiceEndpoints>, localZone: string, egress: readonly ServiceEndpoint[]): Map<string, ServiceEndpoints> {
  const out = new Map<string, ServiceEndpoints>();
  for (const [name, s] of services) {
    const zones = s.zones.flatMap((z) => (z.zone === localZone ? [z] : egress.length === 0 ? [] : [{ zone: z.zone, endpoints: egress, weight: egress.length }]));
    if (zones.length > 0) out.set(name, { service: s.service, zones });
  }
  return out;
}
