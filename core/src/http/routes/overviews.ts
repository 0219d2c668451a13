/**
 * Overviews: each object of a type that has an insight, merged with that insight, as Kuma serves them
 * (`kuma-multizone.md` §6.1). Generated from the descriptor table: every descriptor D that some insight
 * descriptor I describes (`I.insightOf === D.kind`) gets
 * - `/{path}/_overview`, `/{path}/_overview/{name}`, `/{path}/{name}/_overview` under each of its paths
 *   (under `/meshes/{mesh}/…` for mesh-scoped types, plus the all-meshes list `/{path}/_overview`);
 * - Kuma's legacy `/{path}+insights[/{name}]` (`/zones+insights`, `/meshes/{mesh}/dataplanes+insights`, ...);
 * - the few legacy paths that follow no rule (`LEGACY_OVERVIEW_PATHS`).
 *
 * An item is `{type: '<Kind>Overview', mesh?, name, creationTime, modificationTime, labels?,
 * <kind>: <the object without its meta fields>, <insightKind>: <the insight without its meta fields, or {}>}`,
 * e.g. `{type: 'ZoneOverview', name: 'z1', ..., zone: {enabled: true}, zoneInsight: {subscriptions: [...]}}`.
 * Lists take the CRUD lists' query (`size`, `offset`, `name`, `filter[labels.*]`, `tag`), filter and page
 * the objects in SQL, then read the page's insights in one query per insight type.
 *
 * Zone overviews show the ZoneInsight as the zone's KDS lease says it is (`kds/liveness.ts`): when the
 * lease has run out, the open subscription is shown closed, so Kuma tooling shows the zone Offline even when
 * the replica that held its session died before recording the disconnect. A list reads the tenant's
 * sessions in one query per page. The shape stays Kuma's exactly.
 *
 * Not supported: Kuma's `gateway=` filter on dataplane overviews (it needs a spec filter the store's list
 * does not offer); it is refused with a 400 rather than silently ignored.
 */
import type { Context, Hono } from 'hono';
import { type ResourceDescriptor, RESOURCES } from '@ursa/proto';
import { zoneInsightAsOfLease } from '../../domain/zone-liveness.js';
import type { ZoneSessionRow } from '../../store/kds-store.js';
import type { Resource } from '../../store/resource-store.js';
import { toRest } from '../codec.js';
import type { AppEnv } from '../env.js';
import { ApiError, TITLES } from '../errors.js';
import { nextUrl, parseFilters, parsePage } from '../list-query.js';

/**
 * Kuma overview paths that no rule derives from the descriptor's path (Kuma's `ZoneEgressOverview` type
 * lives at `zoneegressoverviews`, while Zone, ZoneIngress and Dataplane overviews use `<path>+insights`).
 * Keyed by the object's kind; each path serves a list and `/{name}`.
 */
const LEGACY_OVERVIEW_PATHS: Readonly<Record<string, readonly string[]>> = {
  ZoneEgress: ['zoneegressoverviews'],
};

/** META fields of a REST body, moved to the top of the overview or dropped (`kri`). */
const META = ['type', 'mesh', 'name', 'creationTime', 'modificationTime', 'labels', 'kri'] as const;

interface Overview {
  readonly desc: ResourceDescriptor;
  readonly insights: readonly ResourceDescriptor[];
}

/** Every type that has an insight, with its insight types. */
export function overviewTypes(): Overview[] {
  return RESOURCES.flatMap((desc) => {
    const insights = RESOURCES.filter((i) => i.insightOf === desc.kind);
    return insights.length > 0 ? [{ desc, insights }] : [];
  });
}

export function mountOverviewRoutes(app: Hono<AppEnv>): void {
  for (const ov of overviewTypes()) {
    const { desc } = ov;
    const legacy = [`${desc.path}+insights`, ...(LEGACY_OVERVIEW_PATHS[desc.kind] ?? [])];
    if (desc.scope === 'mesh') {
      for (const path of [desc.path, ...desc.altPaths]) {
        const base = `/meshes/:mesh/${path}`;
        app.get(`${base}/_overview`, (c) => list(c, ov, c.req.param('mesh')));
        app.get(`${base}/_overview/:name`, (c) => get(c, ov));
        app.get(`${base}/:name/_overview`, (c) => get(c, ov));
        app.get(`/${path}/_overview`, (c) => list(c, ov, undefined));
      }
      for (const path of legacy) {
        app.get(`/meshes/:mesh/${path}`, (c) => list(c, ov, c.req.param('mesh')));
        app.get(`/meshes/:mesh/${path}/:name`, (c) => get(c, ov));
        app.get(`/${path}`, (c) => list(c, ov, undefined));
      }
    } else {
      for (const path of [desc.path, ...desc.altPaths]) {
        app.get(`/${path}/_overview`, (c) => list(c, ov, undefined));
        app.get(`/${path}/_overview/:name`, (c) => get(c, ov));
        app.get(`/${path}/:name/_overview`, (c) => get(c, ov));
      }
      for (const path of legacy) {
        app.get(`/${path}`, (c) => list(c, ov, undefined));
        app.get(`/${path}/:name`, (c) => get(c, ov));
      }
    }
  }
}

async function list(c: Context<AppEnv>, ov: Overview, mesh: string | undefined) {
  c.set('errorTitle', TITLES.list);
  if (c.req.query('gateway') !== undefined) {
    throw new ApiError(400, 'Bad Request', 'the gateway filter is not supported', [{ field: 'gateway', reason: 'not supported yet', source: 'query' }]);
  }
  const page = parsePage(c);
  const filters = parseFilters(c, ov.desc);
  const tenant = c.var.tenant;
  const { resources } = c.var.stores();
  const { items, total } = await resources.list(tenant, ov.desc.kind, { ...filters, mesh, limit: page.size, offset: page.offset });
  const keys = items.map((r) => ({ mesh: r.mesh, name: r.name }));
  const [sessions, ...insights] = await Promise.all([
    ov.desc.isZoneDefinition && items.length > 0 ? c.var.stores().kds.sessions(tenant) : Promise.resolve([]),
    ...ov.insights.map((i) => (keys.length > 0 ? resources.getMany(tenant, i.kind, keys) : Promise.resolve(new Map<string, Resource>()))),
  ]);
  const byZone = new Map(sessions.map((s) => [s.zone, s]));
  const now = new Date();
  return c.json({
    total,
    items: items.map((r) =>
      toOverview(ov, r, insights.map((m) => m.get(`${r.mesh}/${r.name}`)), { session: byZone.get(r.name), now }),
    ),
    next: nextUrl(c, page, total),
  });
}

async function get(c: Context<AppEnv>, ov: Overview) {
  c.set('errorTitle', TITLES.get);
  const tenant = c.var.tenant;
  const { resources } = c.var.stores();
  const key = { mesh: ov.desc.scope === 'mesh' ? (c.req.param('mesh') ?? '') : '', name: c.req.param('name') ?? '' };
  const [r, session, ...insights] = await Promise.all([
    resources.get(tenant, { kind: ov.desc.kind, ...key }),
    ov.desc.isZoneDefinition ? c.var.stores().kds.session(tenant, key.name) : Promise.resolve(undefined),
    ...ov.insights.map((i) => resources.get(tenant, { kind: i.kind, ...key })),
  ]);
  if (!r) throw new ApiError(404, TITLES.get, 'Not found');
  return c.json(toOverview(ov, r, insights, { session, now: new Date() }));
}

/** `ZoneIngress` → `zoneIngress`: the overview field holding that part. */
const fieldOf = (kind: string) => kind.charAt(0).toLowerCase() + kind.slice(1);

/** A resource's REST body without its meta fields: what Kuma nests under `<kind>` in an overview. */
function withoutMeta(body: Record<string, unknown>): Record<string, unknown> {
  const out = { ...body };
  for (const k of META) delete out[k];
  return out;
}

/** The zone's lease at the time of the request; only zone overviews use it. */
interface Lease {
  readonly session: ZoneSessionRow | undefined;
  readonly now: Date;
}

function toOverview(ov: Overview, r: Resource, insights: readonly (Resource | undefined)[], lease: Lease): Record<string, unknown> {
  const body = toRest(ov.desc, r);
  const out: Record<string, unknown> = { type: `${ov.desc.kind}Overview` };
  if (ov.desc.scope === 'mesh') out.mesh = body.mesh;
  out.name = body.name;
  out.creationTime = body.creationTime;
  out.modificationTime = body.modificationTime;
  if (body.labels !== undefined) out.labels = body.labels;
  out[fieldOf(ov.desc.kind)] = withoutMeta(body);
  ov.insights.forEach((desc, i) => {
    let insight = insights[i];
    if (insight && ov.desc.isZoneDefinition) insight = { ...insight, spec: zoneInsightAsOfLease(insight.spec, lease.session, lease.now) };
    out[fieldOf(desc.kind)] = insight ? withoutMeta(toRest(desc, insight)) : {};
  });
  return out;
}
