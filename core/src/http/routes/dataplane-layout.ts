/**
 * `GET /meshes/{mesh}/dataplanes/{name}/_layout` (the Kuma GUI's dataplane detail): the proxy's KRI and
 * labels, its inbounds (KRI with section, port, protocol, Envoy resource name) and zone-proxy listeners, as
 * Kuma builds them (`pkg/api-server/dataplane_layout_endpoint.go`). Kuma answers only in a mesh whose
 * `meshServices.mode` is `Exclusive` (a 400 otherwise), as here. Outbounds are the MeshServices the proxy
 * can reach; Ursa does not model MeshService, so that list is empty.
 */
import type { Hono } from 'hono';
import { descriptorFor } from '@ursa/proto';
import { kri } from '../codec.js';
import type { AppEnv } from '../env.js';
import { ApiError } from '../errors.js';

type Json = Record<string, unknown>;

const asArray = (v: unknown): Json[] => (Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as Json[]) : []);
/** Kuma's `GetSectionName()`: the inbound's (listener's) name, else its port. */
const sectionOf = (x: Json): string => (typeof x.name === 'string' && x.name !== '' ? x.name : String(x.port ?? ''));
/** Kuma's KRI with a section: the base KRI ends with an empty section (`..._name_`), filled in here. */
const withSection = (base: string, section: string) => `${base}${section}`;

export function mountDataplaneLayoutRoute(app: Hono<AppEnv>): void {
  const dpDesc = descriptorFor('Dataplane');
  app.get('/meshes/:mesh/dataplanes/:name/_layout', async (c) => {
    c.set('errorTitle', 'Failed to retrieve Dataplane');
    const { resources } = c.var.stores();
    const meshName = c.req.param('mesh');
    const [mesh, dp] = await Promise.all([
      resources.get(c.var.tenant, { kind: 'Mesh', mesh: '', name: meshName }),
      resources.get(c.var.tenant, { kind: 'Dataplane', mesh: meshName, name: c.req.param('name') }),
    ]);
    if (!mesh) throw new ApiError(404, 'Failed to build MeshContext', 'Not found');
    const mode = (mesh.spec.meshServices as Json | undefined)?.mode;
    if (mode !== 'Exclusive' && mode !== 3) throw new ApiError(400, 'Bad Request', "bad request: can't use _layout endpoint without meshService enabled");
    if (!dp) throw new ApiError(404, 'Failed to retrieve Dataplane', 'Not found');

    const base = kri(dpDesc, dp);
    const networking = (dp.spec.networking ?? {}) as Json;
    const inbounds = asArray(networking.inbound).map((ib) => {
      const section = sectionOf(ib);
      const tags = (ib.tags ?? {}) as Record<string, string>;
      return {
        kri: withSection(base, section),
        port: Number(ib.port ?? 0),
        protocol: typeof ib.protocol === 'string' && ib.protocol !== '' ? ib.protocol : (tags['kuma.io/protocol'] ?? ''),
        proxyResourceName: `self_inbound_${dpDesc.shortName}_${section}`,
      };
    });
    const listeners = asArray(networking.listeners).flatMap((l) => {
      const type = l.type === 'ZoneIngress' || l.type === 1 ? 'ZoneIngress' : l.type === 'ZoneEgress' || l.type === 2 ? 'ZoneEgress' : undefined;
      if (!type) return [];
      const section = sectionOf(l);
      return [{ kri: withSection(base, section), type, port: Number(l.port ?? 0), proxyResourceName: `self_${type.toLowerCase()}_dp_${section}` }];
    });
    return c.json({ kri: base, labels: dp.labels, inbounds, outbounds: [], listeners });
  });
}
