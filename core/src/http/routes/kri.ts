/**
 * `GET /_kri/{kri}`: a resource by its Kuma Resource Identifier (`kri_<short>_<mesh>_<zone>_<ns>_<name>_<section>`),
 * answered as `GET` of the resource would be (Kuma `pkg/api-server/kri_endpoint.go`).
 *
 * Which stored name a KRI means follows Kuma's `getCoreName`: a resource that originated on this plane (on the
 * global: no zone; on a zone: this zone, or none for what the global sent) is stored under its own name; one a
 * zone synced elsewhere is stored under Kuma's hashed name over mesh, name, zone and namespace (`kds/names.ts`).
 */
import type { Hono } from 'hono';
import { RESOURCES } from '@ursa/proto';
import { hashedName } from '../../kds/names.js';
import { toRest } from '../codec.js';
import type { AppEnv } from '../env.js';
import { ApiError } from '../errors.js';
import type { Plane } from './resources.js';

export interface Identifier {
  readonly short: string;
  readonly mesh: string;
  readonly zone: string;
  readonly namespace: string;
  readonly name: string;
}

/** Kuma `kri.FromString`: its checks and texts (Go's %q quoting is JSON's for the text a URL carries). */
export function parseKri(s: string): Identifier | string {
  const parts = s.split('_');
  if (parts.length < 7) return `invalid identifier string: ${JSON.stringify(s)}`;
  if (parts[0] !== 'kri') return `identifier must start with 'kri': ${JSON.stringify(s)}`;
  return { short: parts[1]!, mesh: parts[2]!, zone: parts[3]!, namespace: parts[4]!, name: parts[5]! };
}

export function mountKriRoute(app: Hono<AppEnv>, plane: Plane): void {
  app.get('/_kri/:kri', async (c) => {
    c.set('errorTitle', 'Could not retrieve a resource');
    const id = parseKri(c.req.param('kri'));
    if (typeof id === 'string') throw new ApiError(400, 'Bad Request', `bad request: ${id}`);
    const desc = RESOURCES.find((d) => d.shortName !== '' && d.shortName === id.short);
    if (!desc) throw new ApiError(400, 'Bad Request', `bad request: unknown short name of resource type: ${JSON.stringify(id.short)}`);
    const local = id.zone === '' || (plane.kind === 'zone' && id.zone === plane.zone);
    const mesh = desc.scope === 'mesh' ? id.mesh : '';
    const name = local ? id.name : hashedName(id.mesh, id.name, id.zone, id.namespace);
    const r = await c.var.stores().resources.get(c.var.tenant, { kind: desc.kind, mesh, name });
    if (!r) throw new ApiError(404, 'Could not retrieve a resource', 'Not found');
    c.header('ETag', `"${r.version}"`);
    return c.json(toRest(desc, r));
  });
}
