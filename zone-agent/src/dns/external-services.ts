/**
 * MeshExternalServices in the resolver (Kuma: a MeshExternalService gets a VIP from the zone's allocator and
 * a hostname from a HostnameGenerator; without one, Kuma's default generator for local MeshExternalServices
 * gives `<name>.extsvc.mesh.local`). Here every MeshExternalService of a mesh is one entry of that mesh's
 * VIP table under the key `mes:<name>` (`:` never occurs in a `kuma.io/service` value Kuma accepts, so no
 * service can take its VIP), and its record is that hostname instead of `<service>.mesh`.
 */
import type { MeshExternalServiceResource } from '../model/resources.js';

const KEY_PREFIX = 'mes:';
export const EXTERNAL_SERVICE_DOMAIN = 'extsvc.mesh.local';

/** The VIP table key of a MeshExternalService. */
export const externalServiceKey = (name: string): string => `${KEY_PREFIX}${name}`;
/** The MeshExternalService name a VIP table key stands for; undefined for a service. */
export const externalServiceOfKey = (key: string): string | undefined => (key.startsWith(KEY_PREFIX) ? key.slice(KEY_PREFIX.length) : undefined);
/** Kuma's default hostname of a MeshExternalService. */
export const externalServiceHostname = (name: string): string => `${name}.${EXTERNAL_SERVICE_DOMAIN}`;

/** Adds each mesh's MeshExternalServices to `wanted` (meshes that do not exist are skipped). */
export function addExternalServices(wanted: Map<string, Set<string>>, services: readonly Pick<MeshExternalServiceResource, 'mesh' | 'name'>[]): void {
  for (const s of services) wanted.get(s.mesh)?.add(externalServiceKey(s.name));
}
