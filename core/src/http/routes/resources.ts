/**
 * CRUD routes for every resource type, generated from the descriptor table: `/meshes/{mesh}/{path}[/{name}]`
 * and `/{path}` (all meshes) for mesh-scoped types, `/{path}[/{name}]` for global ones, under each path and
 * Kuma alternative path. Nothing here knows a kind by name; behaviour comes from descriptor fields.
 */
import type { Context, Hono } from 'hono';
import { deprecations, descriptorFor, droppedFieldWarning, dropUnknownFields, kindsWhere, type ResourceDescriptor, RESOURCES, validateResource, type Violation } from '@ursa/proto';
import { caOps } from '../../domain/mesh-ca.js';
import { defaultsFor } from '../../domain/mesh-defaults.js';
import { ORIGIN_LABEL, stampZone, ZONE_LABEL } from '../../kds/mappers.js';
import { PreconditionError, ValidationError } from '../../store/errors.js';
import type { Preconditions, WriteOp } from '../../store/resource-store.js';
import { asTyped } from '../../store/typed.js';
import { requireAdmin } from '../auth.js';
import { readBody } from '../body.js';
import { fromRest, toRest } from '../codec.js';
import type { AppEnv } from '../env.js';
import { ApiError, GLOBAL_READ_ONLY_MESSAGE, TITLES } from '../errors.js';
import { nextUrl, parseFilters, parsePage } from '../list-query.js';

export interface ResourceRouteOptions {
  /** Create Kuma's default policies with each new Mesh. */
  readonly meshDefaults: boolean;
  /** Which control plane serves these routes; decides what is writable. */
  readonly plane: Plane;
}

/**
 * The global plane writes what it provides; a federated zone writes only what zones own (dataplanes,
 * zone proxies) and stamps them with its zone; a standalone zone writes everything (Kuma's standalone mode).
 */
export type Plane = { readonly kind: 'global' } | { readonly kind: 'zone'; readonly zone: string; readonly federated: boolean };

export const ZONE_READ_ONLY_MESSAGE =
  "On zone control plane you can only modify zone resources with 'kumactl apply' or via the HTTP API. " +
  "You can still use 'kumactl' or the HTTP API to modify the rest of the resource on the global control plane.\n";

const zoneOwned = (d: ResourceDescriptor) => d.kds === 'zone-to-global' || d.kds === 'zone-to-global-to-zones';

const MESH_LABEL = 'kuma.io/mesh';
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
        app.delete(`${base}/:name`, (c) => remove(c, desc, opts));
      } else {
        app.get(`/${path}`, (c) => list(c, desc, undefined));
        app.get(`/${path}/:name`, (c) => get(c, desc));
        app.put(`/${path}/:name`, (c) => put(c, desc, opts));
        app.delete(`/${path}/:name`, (c) => remove(c, desc, opts));
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
  const { resources } = c.var.stores();
  const { items, total } = await resources.list(c.var.tenant, desc.kind, { ...filters, mesh, limit: page.size, offset: page.offset });
  // Kuma: listing in a mesh that does not exist is a 404, not an empty list.
  if (mesh !== undefined && total === 0 && !(await resources.get(c.var.tenant, { kind: MESH_KIND(), mesh: '', name: mesh }))) {
    throw new ApiError(404, 'Failed to retrieve Mesh', 'Not found');
  }
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
function checkWritable(c: Context<AppEnv>, desc: ResourceDescriptor, title: string, plane: Plane): void {
  if (desc.readOnly) {
    throw new ApiError(405, 'Method not allowed', `${desc.pluralDisplayName} are read-only: the control plane writes them\n`);
  }
  if (plane.kind === 'global' && desc.readOnlyOnGlobal) throw new ApiError(405, 'Method not allowed', GLOBAL_READ_ONLY_MESSAGE);
  if (plane.kind === 'zone' && plane.federated && !zoneOwned(desc)) throw new ApiError(405, 'Method not allowed', ZONE_READ_ONLY_MESSAGE);
  requireAdmin(c);
  c.set('errorTitle', title);
}

/** `If-Match: "<version>"` (the ETag of GET) turns a write into a compare-and-set. */
function ifMatch(c: Context): number | undefined {
  const h = c.req.header('if-match');
  if (h === undefined) return undefined;
  const m = /^(?:W\/)?"?([0-9]{1,16})"?$/.exec(h.trim());
  // Versions are safe integers: a longer number names no version (it would compare as a rounded float).
  if (!m || !Number.isSafeInteger(Number(m[1]))) {
    throw new ApiError(400, 'Bad Request', 'If-Match must be a version ETag from GET, e.g. "3"', [{ field: 'If-Match', reason: 'must be a version ETag', source: 'header' }]);
  }
  return Number(m[1]);
}

async function put(c: Context<AppEnv>, desc: ResourceDescriptor, opts: ResourceRouteOptions) {
  checkWritable(c, desc, TITLES.put, opts.plane);
  const key = keyOf(c, desc);
  const body = await readBody(c);
  const { draft: raw, violations, dropped } = fromRest(desc, body, { mesh: key.mesh, name: key.name });
  // Fields Kuma's types do not have are dropped, as Kuma's decoder does, and named in the answer's warnings
  // (as kubectl does) so a typo is not lost silently; nothing unknown reaches the store or KDS.
  const lenient = raw ? dropUnknownFields(desc, raw.spec) : undefined;
  const draft = raw && lenient ? { ...raw, spec: lenient.spec as Record<string, unknown> } : undefined;
  const warnings = [...dropped, ...(lenient?.dropped ?? [])].map(droppedFieldWarning);
  // Report URL/body mismatches and spec problems together, as one 400.
  if (violations.length > 0 || !draft) {
    const more = draft ? validateResource(draft) : undefined;
    throw new ValidationError([...violations, ...(more && !more.ok ? more.violations.filter((v) => !violations.some((w) => w.field === v.field)) : [])]);
  }
  const plane = opts.plane;
  // Kuma's computed label: a mesh-scoped resource carries `kuma.io/mesh` (unless the request set it).
  const meshed = desc.scope === 'mesh' ? { ...draft, labels: { [MESH_LABEL]: key.mesh, ...draft.labels } } : draft;
  const stamped = plane.kind === 'zone' && zoneOwned(desc) ? stampZone(desc, plane.zone, meshed) : meshed;
  const checked = validateResource(stamped);
  if (!checked.ok) throw new ValidationError(checked.violations);

  const { resources } = c.var.stores();
  const tenant = c.var.tenant;
  const expected = ifMatch(c);
  const existing = await resources.get(tenant, key);
  if (expected !== undefined && !existing) throw new ApiError(404, TITLES.put, 'Not found');

  // Kuma's optimistic concurrency: update from the version we read; a concurrent writer makes this a 409.
  // Absent when read: an upsert, so a PUT never answers "already exists" (a retried PUT whose first attempt
  // committed during a database failover, or a concurrent first PUT, ends as an update: last writer wins).
  const ops: WriteOp[] = [existing ? { op: 'update', resource: stamped, expectedVersion: expected ?? existing.version } : { op: 'upsert', resource: stamped }];
  const pre: Preconditions = {};
  if (desc.scope === 'mesh') {
    pre.exists = [{ key: { kind: MESH_KIND(), mesh: '', name: key.mesh }, detail: 'Mesh is not found', violation: { field: 'mesh', message: `mesh of name ${key.mesh} is not found` } }];
  }
  if (desc.isZoneDefinition && existing && (existing.spec.enabled !== false) !== (checked.value.spec.enabled !== false)) {
    // Enabling or disabling a zone changes which zones may see its ingresses: rewrite them at a new
    // revision so every KDS session re-decides (a disabled zone's ingresses are removed everywhere).
    ops.push({ op: 'touch-labels', labels: zoneSlice(key.name), kinds: kindsWhere((d) => d.kds === 'zone-to-global-to-zones').map((d) => d.kind) });
  }
  if (desc.isMeshDefinition) {
    const spec = checked.value.spec;
    if (!existing && opts.meshDefaults) ops.push(...defaultsFor(key.name, spec).map((resource): WriteOp => ({ op: 'create', resource, ifAbsent: true })));
    ops.push(...(await caOps(resources, tenant, key.name, asTyped('Mesh', checked.value).spec)));
  }
  const [result] = await resources.apply(tenant, ops, pre);
  warnings.push(...deprecations(desc, key.name, checked.value.labels));
  // Kuma's CreateOrUpdateSuccessResponse: `{}`, or `{"warnings": [...]}` when there is something to say.
  return c.json(warnings.length > 0 ? { warnings } : {}, result && 'created' in result && result.created ? 201 : 200);
}

async function remove(c: Context<AppEnv>, desc: ResourceDescriptor, opts: ResourceRouteOptions) {
  checkWritable(c, desc, TITLES.delete, opts.plane);
  const key = keyOf(c, desc);
  // No stored key contains U+0000 (every write is validated), and PostgreSQL refuses it as a query
  // parameter: `DELETE …/%00` is a 404 here, before any store (resources, KDS sessions) is asked.
  if (key.name.includes('\u0000') || key.mesh.includes('\u0000')) throw new ApiError(404, TITLES.delete, 'Not found');
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
  if (desc.isZoneDefinition && opts.plane.kind === 'global') {
    // Kuma refuses to delete a zone whose control plane is connected; Ursa's "connected" is a live lease.
    if (await c.var.stores().kds.isOnline(c.var.tenant, key.name)) {
      throw new PreconditionError('Resource is not valid', [{ field: 'zone', message: 'unable to delete Zone, Zone CP is still connected, please shut it down first' }]);
    }
    // Everything the zone synced goes with it, and its insight.
    ops.push({ op: 'cascade-labels', labels: zoneSlice(key.name), kinds: kindsWhere((d) => d.kds === 'zone-to-global' || d.kds === 'zone-to-global-to-zones').map((d) => d.kind) });
    for (const insight of kindsWhere((d) => d.insightOf === desc.kind)) ops.push({ op: 'delete', ifExists: true, key: { kind: insight.kind, name: key.name } });
  }
  ops.push({ op: 'delete', key, expectedVersion: expected });
  await resources.apply(c.var.tenant, ops, pre);
  if (desc.isZoneDefinition && opts.plane.kind === 'global') await c.var.stores().kds.forgetZone(c.var.tenant, key.name);
  return c.json({});
}

/** Labels that mark what a zone synced to the global. */
function zoneSlice(zone: string): Record<string, string> {
  return { [ZONE_LABEL]: zone, [ORIGIN_LABEL]: 'zone' };
}

export type { Violation };
export { descriptorFor };
