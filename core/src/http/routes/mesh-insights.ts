/**
 * Kuma's computed per-mesh insights, which the Kuma GUI's home, meshes, mesh overview and services pages read:
 * - `GET /mesh-insights[/{mesh}]`: MeshInsight (dataplanes total/online/offline/partially degraded, by type;
 *   policies and resources per kind; kuma-dp and Envoy versions; mTLS backends; services internal/external);
 * - `GET /meshes/{mesh}/service-insights[/{name}]`, `GET /service-insights`: one ServiceInsight per
 *   `kuma.io/service` (status online / partially_degraded / offline, dataplanes online/offline/total, zones,
 *   `addressPort`, `serviceType`), with Kuma's `name` (substring) and `type` (comma list) filters.
 * Computed per request from the store (`store/mesh-insight-queries.ts`). Shapes follow Kuma's protojson output:
 * zero values are left out (`serviceType` internal, empty `zones`), as in Kuma's golden files.
 */
import type { Context, Hono } from 'hono';
import { MeshInsightQueries, type MeshInsightCounts, type ServiceCounts, type ServiceType } from '../../store/mesh-insight-queries.js';
import type { Resource } from '../../store/resource-store.js';
import type { FullStatus } from '../../store/insight-queries.js';
import type { AppEnv } from '../env.js';
import { ApiError, TITLES } from '../errors.js';
import { nextUrl, parsePage } from '../list-query.js';
import { RESOURCES } from '@ursa/proto';

const SERVICE_TYPES: readonly ServiceType[] = ['internal', 'external', 'gateway_delegated', 'gateway_builtin'];
/** The port Kuma's universal VIPs answer on (`dns.serviceVipPort`), shown in `addressPort`. */
const SERVICE_VIP_PORT = 80;

export function mountMeshInsightRoutes(app: Hono<AppEnv>): void {
  app.get('/mesh-insights', async (c) => {
    c.set('errorTitle', 'Could not retrieve resources');
    const page = parsePage(c);
    const name = c.req.query('name');
    const { items, total } = await c.var.stores().resources.list(c.var.tenant, 'Mesh', { nameContains: name || undefined, limit: page.size, offset: page.offset });
    const counts = await new MeshInsightQueries(c.var.stores().db).meshInsights(c.var.tenant, items.map((m) => m.name));
    return c.json({ total, items: items.map((m) => meshInsight(m, counts.get(m.name)!)), next: nextUrl(c, page, total) });
  });

  app.get('/mesh-insights/:mesh', async (c) => {
    c.set('errorTitle', TITLES.get);
    const mesh = await meshOr404(c, c.req.param('mesh'), TITLES.get);
    const counts = await new MeshInsightQueries(c.var.stores().db).meshInsights(c.var.tenant, [mesh.name]);
    return c.json(meshInsight(mesh, counts.get(mesh.name)!));
  });

  app.get('/service-insights', (c) => listServices(c, undefined));
  app.get('/meshes/:mesh/service-insights', async (c) => listServices(c, (await meshOr404(c, c.req.param('mesh'), 'Could not retrieve resources')).name));

  app.get('/meshes/:mesh/service-insights/:name', async (c) => {
    c.set('errorTitle', TITLES.get);
    const mesh = await meshOr404(c, c.req.param('mesh'), TITLES.get);
    const name = c.req.param('name');
    const services = await new MeshInsightQueries(c.var.stores().db).serviceInsights(c.var.tenant, [mesh.name]);
    // Kuma answers a service it has no numbers for with empty numbers, not a 404 (`service_insight_endpoints.go`).
    const found = services.find((s) => s.name === name) ?? { mesh: mesh.name, name, serviceType: 'internal' as const, total: 0, online: 0, zones: [] };
    return c.json(serviceInsight(found, mesh, found.total > 0));
  });
}

async function listServices(c: Context<AppEnv>, mesh: string | undefined) {
  c.set('errorTitle', 'Could not retrieve resources');
  const page = parsePage(c);
  const types = new Set<ServiceType>();
  for (const t of (c.req.query('type') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (!SERVICE_TYPES.includes(t as ServiceType)) {
      throw new ApiError(400, 'Invalid response type', 'unsupported service type', [{ field: 'type', reason: `must be a comma-separated list of: ${SERVICE_TYPES.join(', ')}`, source: 'query' }]);
    }
    types.add(t as ServiceType);
  }
  const nameContains = c.req.query('name') ?? '';
  const { resources } = c.var.stores();
  const all = (await new MeshInsightQueries(c.var.stores().db).serviceInsights(c.var.tenant, mesh === undefined ? undefined : [mesh]))
    .filter((s) => s.name.includes(nameContains) && (types.size === 0 || types.has(s.serviceType)));
  const pageItems = all.slice(page.offset, page.offset + page.size);
  // Kuma stamps each service with its mesh's ServiceInsight times; the mesh's are the closest Ursa has.
  const meshes = new Map<string, Resource>();
  for (const m of new Set(pageItems.map((s) => s.mesh))) {
    const r = await resources.get(c.var.tenant, { kind: 'Mesh', mesh: '', name: m });
    if (r) meshes.set(m, r);
  }
  return c.json({
    total: all.length,
    items: pageItems.map((s) => serviceInsight(s, meshes.get(s.mesh), true)),
    next: nextUrl(c, page, all.length),
  });
}

async function meshOr404(c: Context<AppEnv>, name: string, title: string): Promise<Resource> {
  const mesh = await c.var.stores().resources.get(c.var.tenant, { kind: 'Mesh', mesh: '', name });
  if (!mesh) throw new ApiError(404, title, 'Not found');
  return mesh;
}

const sum = (...s: FullStatus[]): FullStatus =>
  s.reduce((a, b) => ({ total: a.total + b.total, online: a.online + b.online, offline: a.offline + b.offline, partiallyDegraded: a.partiallyDegraded + b.partiallyDegraded }), {
    total: 0,
    online: 0,
    offline: 0,
    partiallyDegraded: 0,
  });

function meshInsight(mesh: Resource, n: MeshInsightCounts): Record<string, unknown> {
  const { standard, gatewayBuiltin, gatewayDelegated } = n.dataplanesByType;
  const gateway = sum(gatewayBuiltin, gatewayDelegated);
  const policies = RESOURCES.filter((d) => d.isPolicy && d.scope === 'mesh');
  return {
    type: 'MeshInsight',
    name: mesh.name,
    creationTime: mesh.creationTime.toISOString(),
    modificationTime: mesh.modificationTime.toISOString(),
    dataplanes: sum(standard, gateway),
    dataplanesByType: { standard, gateway, gatewayBuiltin, gatewayDelegated },
    policies: Object.fromEntries(policies.filter((d) => n.byKind[d.kind]! > 0).map((d) => [d.kind, { total: n.byKind[d.kind] }])),
    resources: Object.fromEntries(Object.entries(n.byKind).map(([k, total]) => [k, { total }])),
    dpVersions: n.dpVersions,
    mTLS: n.mTLS,
    services: { total: n.services.internal + n.services.external, internal: n.services.internal, external: n.services.external },
  };
}

function serviceInsight(s: ServiceCounts, mesh: Resource | undefined, known: boolean): Record<string, unknown> {
  const time = (mesh?.modificationTime ?? new Date(0)).toISOString();
  const out: Record<string, unknown> = { type: 'ServiceInsight', mesh: s.mesh, name: s.name, creationTime: (mesh?.creationTime ?? new Date(0)).toISOString(), modificationTime: time };
  if (known) out.status = s.online === s.total ? 'online' : s.online === 0 ? 'offline' : 'partially_degraded';
  out.dataplanes = { total: s.total, online: s.online, offline: s.total - s.online };
  if (s.serviceType !== 'internal') out.serviceType = s.serviceType;
  else out.addressPort = `${s.name}.mesh:${SERVICE_VIP_PORT}`;
  if (s.zones.length > 0) out.zones = s.zones;
  return out;
}
