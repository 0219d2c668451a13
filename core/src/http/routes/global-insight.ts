/**
 * `GET /global-insight`: Kuma's `GlobalInsightBase` for the tenant served — services, zones, dataplanes,
 * policies, meshes and per-kind totals — computed with SQL aggregates (`store/insight-queries.ts`) in one
 * snapshot. Kuma reads the same numbers from its periodically resynced MeshInsight / ServiceInsight
 * resources; here they are current at the time of the request.
 *
 * Differences from Kuma, on purpose:
 * - `zones.controlPlanes` counts Zone objects (Kuma counts ZoneInsights) and a zone is online only when it
 *   is also enabled, as kumactl shows it; zone ingresses / egresses count the objects, online by their insights.
 * - `services.external.total` is 0: Ursa has no ExternalService type yet.
 * - `services.total` (required by Kuma's schema, absent from its Go output) is the sum of the four categories.
 * - `revision` (Ursa's): the tenant's change-feed revision, what each zone's applied revision is compared with
 *   (`ursactl inspect zones` shows how many revisions a zone is behind).
 *
 * `GET /global-insights` is Kuma's older endpoint: `{type: GlobalInsights, creationTime, resources}` with the
 * count of each global-scoped type except insights.
 */
import type { Hono } from 'hono';
import { RESOURCES } from '@ursa/proto';
import { InsightQueries } from '../../store/insight-queries.js';
import type { AppEnv } from '../env.js';

/**
 * Global-scoped Kuma types Ursa does not model: there are none of them, and Kuma's `/global-insights` lists
 * every global type, so clients reading one find a zero rather than nothing.
 */
const UNMODELLED_GLOBAL_KINDS = ['HostnameGenerator'];

export function mountGlobalInsightRoute(app: Hono<AppEnv>): void {
  app.get('/global-insights', async (c) => {
    c.set('errorTitle', 'Could not retrieve global insights');
    const counts = await new InsightQueries(c.var.stores().db).counts(c.var.tenant);
    const kinds = RESOURCES.filter((d) => d.scope === 'global' && d.insightOf === undefined).map((d) => d.kind);
    const resources = Object.fromEntries([...kinds, ...UNMODELLED_GLOBAL_KINDS].sort().map((k) => [k, { total: counts.byKind.get(k) ?? 0 }]));
    return c.json({ type: 'GlobalInsights', creationTime: new Date().toISOString(), resources });
  });

  app.get('/global-insight', async (c) => {
    c.set('errorTitle', 'Could not retrieve global insight');
    const createdAt = new Date().toISOString();
    const [counts, revision] = await Promise.all([new InsightQueries(c.var.stores().db).counts(c.var.tenant), c.var.stores().resources.currentRevision(c.var.tenant)]);
    const sum = (pred: (d: (typeof RESOURCES)[number]) => boolean) =>
      RESOURCES.filter(pred).reduce((n, d) => n + (counts.byKind.get(d.kind) ?? 0), 0);
    const { internal, gatewayBuiltin, gatewayDelegated } = counts.services;
    const external = { total: 0 };
    return c.json({
      createdAt,
      services: {
        total: internal.total + external.total + gatewayBuiltin.total + gatewayDelegated.total,
        internal,
        external,
        gatewayBuiltin,
        gatewayDelegated,
      },
      zones: counts.zones,
      dataplanes: counts.dataplanes,
      policies: { total: sum((d) => d.isPolicy) },
      meshes: { total: sum((d) => d.isMeshDefinition) },
      resources: Object.fromEntries(RESOURCES.map((d) => [d.kind, { total: counts.byKind.get(d.kind) ?? 0 }])),
      revision,
    });
  });
}
