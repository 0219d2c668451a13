/**
 * `GET /meshes/{mesh}/{policyType}/{name}/_resources/dataplanes`: the proxies a policy's top-level targetRef
 * selects (its "affected proxies"), as Kuma answers it (`pkg/api-server/resource_endpoints.go`
 * `matchingDataplanesForPolicy`): `{total, items: [{type, mesh, name, labels}], next}` over the mesh's
 * Dataplanes, with `name` (substring), `size` and `offset`. A top-level `MeshHTTPRoute` ref selects what that
 * route's own targetRef selects; a ref that resolves to nothing selects nothing. On the global this covers
 * every zone's Dataplanes (each is judged in its own zone, `kuma.io/zone`); on a zone agent, its own.
 * Selection is the policy engine's (`policy/select.ts`), so this list and what proxies get agree.
 */
import type { Hono } from 'hono';
import { descriptorForPath, type TargetRefSpec } from '@ursa/proto';
import { ZONE_LABEL } from '../../kds/mappers.js';
import { readRef, selects, type InboundInfo, type TargetRef } from '../../policy/select.js';
import type { Resource } from '../../store/resource-store.js';
import type { AppEnv } from '../env.js';
import { ApiError } from '../errors.js';
import { parsePage } from '../list-query.js';

type Json = Record<string, unknown>;
/** Dataplanes read per store call while filtering (Kuma filters the whole mesh in memory too). */
const READ_PAGE = 1000;
/** MeshHTTPRoute refs followed at most this deep (a route's own targetRef is never a route in valid data). */
const MAX_ROUTE_HOPS = 4;

function inboundsOf(dp: Resource): InboundInfo[] {
  const networking = (dp.spec.networking ?? {}) as Json;
  const raw = Array.isArray(networking.inbound) ? (networking.inbound as Json[]) : [];
  return raw.map((ib) => {
    const tags = (ib.tags ?? {}) as Record<string, string>;
    return { name: typeof ib.name === 'string' ? ib.name : '', port: Number(ib.port ?? 0), service: tags['kuma.io/service'] ?? '', tags };
  });
}

export function mountPolicyDataplanesRoute(app: Hono<AppEnv>): void {
  app.get('/meshes/:mesh/:type/:name/_resources/dataplanes', async (c, next) => {
    const desc = descriptorForPath(c.req.param('type'));
    if (!desc?.isPolicy) return next();
    const page = parsePage(c);
    const nameContains = c.req.query('name') || undefined;
    if (nameContains && nameContains.length > 512) throw new ApiError(400, 'Bad Request', 'Invalid name filter', [{ field: 'name', reason: 'the name must be at most 512 characters', source: 'query' }]);
    const { resources } = c.var.stores();
    const tenant = c.var.tenant;
    const meshName = c.req.param('mesh');
    const [mesh, policy] = await Promise.all([
      resources.get(tenant, { kind: 'Mesh', mesh: '', name: meshName }),
      resources.get(tenant, { kind: desc.kind, mesh: meshName, name: c.req.param('name') }),
    ]);
    if (!mesh) throw new ApiError(404, 'Failed to retrieve Mesh', 'Not found');
    if (!policy) throw new ApiError(404, 'Could not retrieve policy', 'Not found');

    // Resolve the top-level ref: a MeshHTTPRoute stands for what the route itself targets.
    let owner: Resource = policy;
    let top: TargetRef | undefined = readRef(policy.spec.targetRef as TargetRefSpec | undefined);
    for (let hops = 0; top?.kind === 'MeshHTTPRoute'; hops++) {
      const route = hops < MAX_ROUTE_HOPS && top.name ? await resources.get(tenant, { kind: 'MeshHTTPRoute', mesh: meshName, name: top.name }) : undefined;
      if (!route) top = undefined;
      else {
        owner = route;
        top = readRef(route.spec.targetRef as TargetRefSpec | undefined);
      }
    }

    const matched: Resource[] = [];
    if (top) {
      for (let offset = 0; ; offset += READ_PAGE) {
        const { items } = await resources.list(tenant, 'Dataplane', { mesh: meshName, nameContains, limit: READ_PAGE, offset });
        for (const dp of items) {
          const s = selects(owner, top, dp, inboundsOf(dp), dp.labels[ZONE_LABEL] ?? '');
          if (s.proxy || s.inbounds.length > 0) matched.push(dp);
        }
        if (items.length < READ_PAGE) break;
      }
    }
    const items = matched.slice(page.offset, page.offset + page.size).map((dp) => ({ type: 'Dataplane', mesh: dp.mesh, name: dp.name, labels: dp.labels }));
    const body: Json = { total: matched.length, items };
    // Kuma omits `next` at the end of the list.
    if (page.offset + page.size < matched.length) {
      const url = new URL(c.req.url);
      url.searchParams.set('offset', String(page.offset + page.size));
      url.searchParams.set('size', String(page.size));
      body.next = url.toString();
    }
    return c.json(body);
  });
}
