/**
 * CRUD routes for every resource type, generated from the descriptor table: `/meshes/{mesh}/{path}[/{name}]`
 * and `/{path}` (all meshes) for mesh-scoped types, `/{path}[/{name}]` for global ones, under each path and
 * Kuma alternative path. Nothing here knows a kind by name; behaviour comes from descriptor fields.
 */
import type { Context, Hono } from 'hono';
import type { ResourceDescriptor } from '../../../../proto/src/descriptor.js';
import { descriptorFor, kindsWhere, RESOURCES } from '../../../../proto/src/resources.js';
import { validateResource, type Violation } from '../../../../proto/src/validate.js';
import { caOps } from '../../domain/mesh-ca.js';
import { defaultsFor } from '../../domain/mesh-defaults.js';
import { ValidationError } from '../../store/errors.js';
import type { Preconditions, WriteOp } from '../../store/resource-store.js';
import { requireAdmin } from '../auth.js';
import { readBody } from '../body.js';
import { fromRest, toRest } from '../codec.js';
import type { AppEnv } from '../env.js';
import { ApiError, GLOBAL_READ_ONLY_MESSAGE, TITLES } from '../errors.js';
import { nextUrl, parseFilters, parsePage } from '../list-query.js';

export interface ResourceRouteOptions {
  /** Create Kuma's default policies with each new Mesh. */
  readonly meshDefaults: boolean;
}

const MESH_KIND = () => kindsWhere((d) => d.isMeshDefinition)[0]!.kind;

export function mountResourceRoutes(app: Hono<AppEnv>, opts: ResourceRouteOptions): void {
  for (const desc of RESOURCES) {
    for (const path of [desc.path, ...desc.altPaths]) {
      if (desc.scope === 'mesh') {
        const base = `/meshes/:mesh/${path}`;
        app.get(base, (c) => list(c, desc, c.req.param('mesh')));
        app.get(`/${path}`, (c) => list(c, desc, undefined));
        app.get(`${base}/:name`, (c) => get(c, desc));
        app.put(`${base}/:name`, (c) => put(c, desc, opts));
        app.delete(`${base}/:name`, (c) => remove(c, desc));
      } else {
        app.get(`/${path}`, (c) => list(c, desc, undefined));
        app.get(`/${path}/:name`, (c) => get(c, desc));
        app.put(`/${path}/:name`, (c) => put(c, desc, opts));
        app.delete(`/${path}/:name`, (c) => remove(c, desc));
      }
    }
  }
}

function keyOf(c: Context<AppEnv>, desc: ResourceDescriptor) {
  return { kind: desc.kind, mesh: desc.scope === 'mesh' ? (c.req.param('mesh') ?? '') : '', name: c.req.param('name') ?? '' };
}

async function list(c: Context<AppEnv>, desc: ResourceDescriptor, mesh: string | undefined) {
  c.set('errorTitle', TITLES.list);
  const page = parsePage(c);
  const filters = parseFilters(c, desc);
  const { items, total } = await c.var.stores().resources.list(c.var.tenant, desc.kind, { ...filters, mesh, limit: page.size, offset: page.offset });
  return c.json({ total, items: items.map((r) => toRest(desc, r)), next: nextUrl(c, page, total) });
}

async function get(c: Context<AppEnv>, desc: ResourceDescriptor) {
  c.set('errorTitle', TITLES.get);
  const r = await c.var.stores().resources.get(c.var.tenant, keyOf(c, desc));
  if (!r) throw new ApiError(404, TITLES.get, 'Not found');
  c.header('ETag', `"${r.version}"`);
  return c.json(toRest(desc, r));
}

/** Refuses writes the global plane does not take, before reading any body. */
function checkWritable(c: Context<AppEnv>, desc: ResourceDescriptor, title: string): void {
  if (desc.readOnly) {
    throw new ApiError(405, 'Method not allowed', `${desc.pluralDisplayName} are read-only: the control plane writes them\n`);
  }
  if (desc.readOnlyOnGlobal) throw new ApiError(405, 'Method not allowed', GLOBAL_READ_ONLY_MESSAGE);
  requireAdmin(c);
  c.set('errorTitle', title);
}

/** `If-Match: "<version>"` (the ETag of GET) turns a write into a compare-and-set. */
function ifMatch(c: Context): number | undefined {
  const h = c.req.header('if-match');
  if (h === undefined) return undefined;
  const m = /^(?:W\/)?"?([0-9]+)"?$/.exec(h.trim());
  if (!m) throw new ApiError(400, 'Bad Request', 'If-Match must be a version ETag from GET, e.g. "3"', [{ field: 'If-Match', reason: 'must be a version ETag', source: 'header' }]);
  return Number(m[1]);
}

async function put(c: Context<AppEnv>, desc: ResourceDescriptor, opts: ResourceRouteOptions) {
  checkWritable(c, desc, TITLES.put);
  const key = keyOf(c, desc);
  const body = await readBody(c);
  const { draft, violations } = fromRest(desc, body, { mesh: key.mesh, name: key.name });
  // Report URL/body mismatches and spec problems together, as one 400.
  if (violations.length > 0 || !draft) {
    const more = draft ? validateResource(draft) : undefined;
    throw new ValidationError([...violations, ...(more && !more.ok ? more.violations.filter((v) => !violations.some((w) => w.field === v.field)) : [])]);
  }
  const checked = validateResource(draft);
  if (!checked.ok) throw new ValidationError(checked.violations);

  const { resources } = c.var.stores();
  const tenant = c.var.tenant;
  const expected = ifMatch(c);
  const existing = await resources.get(tenant, key);
  if (expected !== undefined && !existing) throw new ApiError(404, TITLES.put, 'Not found');

  // Kuma's optimistic concurrency: update from the version we read; a concurrent writer makes this a 409.
  const ops: WriteOp[] = [existing ? { op: 'update', resource: draft, expectedVersion: expected ?? existing.version } : { op: 'create', resource: draft }];
  const pre: Preconditions = {};
  if (desc.scope === 'mesh') {
    pre.exists = [{ key: { kind: MESH_KIND(), mesh: '', name: key.mesh }, detail: 'Mesh is not found', violation: { field: 'mesh', message: `mesh of name ${key.mesh} is not found` } }];
  }
  if (desc.isMeshDefinition) {
    const spec = checked.value.spec;
    if (!existing && opts.meshDefaults) ops.push(...defaultsFor(key.name, spec).map((resource): WriteOp => ({ op: 'create', resource, ifAbsent: true })));
    ops.push(...(await caOps(resources, tenant, key.name, spec)));
  }
  const [result] = await resources.apply(tenant, ops, pre);
  return c.json({}, result && 'created' in result && result.created ? 201 : 200);
}

async function remove(c: Context<AppEnv>, desc: ResourceDescriptor) {
  checkWritable(c, desc, TITLES.delete);
  const key = keyOf(c, desc);
  const { resources } = c.var.stores();
  const expected = ifMatch(c);
  const ops: WriteOp[] = [];
  const pre: Preconditions = {};
  if (desc.isMeshDefinition) {
    // Everything in the mesh goes with it, unless zones still run dataplanes in it (Kuma refuses then).
    pre.noneOf = kindsWhere((d) => d.blocksMeshDeletion).map((d) => ({
      kind: d.kind,
      mesh: key.name,
      detail: 'Resource is not valid',
      violation: { field: 'mesh', message: `unable to delete mesh, there are still some ${d.pluralDisplayName.toLowerCase()} attached` },
    }));
    ops.push({ op: 'cascade-mesh', mesh: key.name });
  }
  ops.push({ op: 'delete', key, expectedVersion: expected });
  await resources.apply(c.var.tenant, ops, pre);
  return c.json({});
}

export type { Violation };
export { descriptorFor };
