/**
 * The resolver's record table, built from the zone's store (pure functions; Kuma: `pkg/dns/vips_allocator.go`
 * for the service set, `pkg/xds/topology/dns.go` `VIPOutbounds` for the names):
 * - services per mesh: every `kuma.io/service` of a local Dataplane inbound that is not `state: Ignored`, and
 *   every available service of a remote ZoneIngress (one the global sent, of another zone) for that mesh;
 * - and every MeshExternalService, named `<name>.extsvc.mesh.local` (`external-services.ts`);
 * - names: `<service>.mesh` and, when different, the RFC 1123 form with `_` replaced by `.`
 *   (`backend_kuma-demo_svc_8080.mesh` -> `backend.kuma-demo.svc.8080.mesh`).
 *
 * The resolver serves every mesh of the zone from one name space, while VIPs are per mesh: when two meshes
 * have a service of the same name, the answer comes from mesh `default` if it is one of them, else from the
 * first mesh in name order. An exact `<service>.mesh` name always wins over another service's dotted alias.
 */
import { activeInbounds, dataplaneOf, isLocal, SERVICE_TAG, type DataplaneResource } from '../model/dataplane.js';
import type { MeshResource, ZoneIngressResource } from '../model/resources.js';
import { externalServiceHostname, externalServiceOfKey } from './external-services.js';
import type { VipMap } from './vips.js';

export const DNS_DOMAIN = 'mesh';
export { DNS_TTL } from './ttl.js';

export interface StoreView {
  readonly meshes: readonly Pick<MeshResource, 'name'>[];
  readonly dataplanes: readonly DataplaneResource[];
  readonly zoneIngresses: readonly Pick<ZoneIngressResource, 'spec' | 'labels'>[];
}

/** Services wanted per existing mesh (meshes without services are present with an empty set). */
export function wantedServices(view: StoreView, localZone: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of view.meshes) out.set(m.name, new Set());
  for (const resource of view.dataplanes) {
    const set = out.get(resource.mesh);
    const dp = dataplaneOf(resource);
    // A Dataplane synced from elsewhere is not a local one (the global does not send them today).
    if (!set || !dp.local) continue;
    for (const inbound of activeInbounds(dp)) if (inbound.service !== '') set.add(inbound.service);
  }
  for (const zi of view.zoneIngresses) {
    if (isLocal(zi)) continue;
    // The global may send back this zone's own ingress: its services are local ones (already counted).
    if (zi.spec.zone === localZone) continue;
    for (const a of zi.spec.availableServices ?? []) {
      const set = a.mesh === undefined ? undefined : out.get(a.mesh);
      const service = a.tags[SERVICE_TAG];
      if (set && service) set.add(service);
    }
  }
  return out;
}

/** The RFC 1123 form of a service name: `_` is not allowed in host names, so each becomes a label separator. */
export function dottedAlias(service: string): string {
  return service.replaceAll('_', '.');
}

/** True when `name` fits DNS: labels of 1..63 bytes, at most 255 bytes on the wire. */
export function isEncodableName(name: string): boolean {
  const labels = name.split('.');
  let wire = 1;
  for (const l of labels) {
    const n = Buffer.byteLength(l);
    if (n === 0 || n > 63) return false;
    wire += n + 1;
  }
  return wire <= 255;
}

export interface DnsRecord {
  /** Lower-case, without the trailing dot. */
  readonly name: string;
  readonly ip: string;
  readonly mesh: string;
  readonly service: string;
}

export class RecordTable {
  private constructor(private readonly byName: ReadonlyMap<string, DnsRecord>) {}

  static empty(): RecordTable {
    return new RecordTable(new Map());
  }

  static build(vips: VipMap, domain = DNS_DOMAIN): RecordTable {
    const meshes = [...vips.keys()].sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a < b ? -1 : a > b ? 1 : 0));
    const byName = new Map<string, DnsRecord>();
    const add = (name: string, rec: Omit<DnsRecord, 'name'>) => {
      const key = name.toLowerCase();
      if (!byName.has(key) && isEncodableName(key)) byName.set(key, { name: key, ...rec });
    };
    // Two passes: exact names of every mesh first, then aliases, so an alias never shadows a real name.
    for (const pass of ['exact', 'alias'] as const) {
      for (const mesh of meshes) {
        const services = [...vips.get(mesh)!.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        for (const [service, ip] of services) {
          // A MeshExternalService (`external-services.ts`): its own hostname, no alias.
          const external = externalServiceOfKey(service);
          if (external !== undefined) {
            if (pass === 'exact') add(externalServiceHostname(external), { ip, mesh, service });
            continue;
          }
          add(pass === 'exact' ? `${service}.${domain}` : `${dottedAlias(service)}.${domain}`, { ip, mesh, service });
        }
      }
    }
    return new RecordTable(byName);
  }

  /** The record of a query name (any case, with or without the trailing dot). */
  lookup(qname: string): DnsRecord | undefined {
    const n = qname.endsWith('.') ? qname.slice(0, -1) : qname;
    return this.byName.get(n.toLowerCase());
  }

  get size(): number {
    return this.byName.size;
  }

  records(): DnsRecord[] {
    return [...this.byName.values()];
  }
}
