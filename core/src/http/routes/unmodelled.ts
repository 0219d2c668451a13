/**
 * Kuma types Ursa does not model yet, answered as Kuma answers a type with no objects, so that tools listing
 * them (the Kuma GUI's services, gateways and mTLS pages, kumactl) keep working: lists are
 * `{"total": 0, "items": [], "next": null}`, a named object is Kuma's 404. Writes are not accepted (no
 * route: 404), since nothing would act on them. Also `GET /who-am-i` (Kuma's: the caller and its groups).
 */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.js';
import { ApiError, TITLES } from '../errors.js';
import { parsePage } from '../list-query.js';

/** Kuma's REST paths of mesh-scoped types Ursa does not store. */
export const UNMODELLED_MESH_PATHS = [
  'meshservices',
  'meshmultizoneservices',
  'meshgateways',
  'meshgatewayroutes',
  'external-services',
  'meshidentities',
  'meshtrusts',
  'workloads',
] as const;
/** Kuma's REST paths of global types Ursa does not store. */
export const UNMODELLED_GLOBAL_PATHS = ['hostnamegenerators'] as const;

export function mountUnmodelledRoutes(app: Hono<AppEnv>): void {
  const emptyList = { total: 0, items: [], next: null };
  for (const path of UNMODELLED_MESH_PATHS) {
    app.get(`/${path}`, (c) => {
      parsePage(c); // a bad size or offset is still a 400, as for every list
      return c.json(emptyList);
    });
    app.get(`/meshes/:mesh/${path}`, async (c) => {
      parsePage(c);
      if (!(await c.var.stores().resources.get(c.var.tenant, { kind: 'Mesh', mesh: '', name: c.req.param('mesh') }))) {
        throw new ApiError(404, 'Could not retrieve resources', 'Not found');
      }
      return c.json(emptyList);
    });
    app.get(`/meshes/:mesh/${path}/:name`, () => {
      throw new ApiError(404, TITLES.get, 'Not found');
    });
  }
  for (const path of UNMODELLED_GLOBAL_PATHS) {
    app.get(`/${path}`, (c) => {
      parsePage(c);
      return c.json(emptyList);
    });
    app.get(`/${path}/:name`, () => {
      throw new ApiError(404, TITLES.get, 'Not found');
    });
  }

  // Kuma's user for the caller: an admin is in `mesh-system:admin`, everyone authenticated in
  // `mesh-system:authenticated` (what the GUI checks); Ursa adds the tenant and role.
  app.get('/who-am-i', (c) => {
    const p = c.var.principal;
    const name = p.subject === 'loopback' ? 'mesh-system:admin' : `${p.tenant}:${p.subject}`;
    const groups = [...(p.role === 'admin' ? ['mesh-system:admin'] : []), 'mesh-system:authenticated', `ursa:tenant:${p.tenant}`, `ursa:role:${p.role}`];
    return c.json({ name, groups });
  });
}
