/**
 * Aggregates behind Kuma's per-mesh insights (`/mesh-insights`, `/meshes/{mesh}/service-insights`):
 * dataplanes by type and status, kuma-dp / Envoy versions, mTLS backends, policies and resources per kind,
 * and services (every `kuma.io/service`) with their instances. Kuma stores MeshInsight and ServiceInsight
 * resources that a resyncer recomputes every few seconds; Ursa computes them per request, in SQL over the
 * `resources` table (grouped, never a mesh's dataplanes in memory), in one read-only snapshot, with the
 * status rules of the global insight (`insight-queries.ts`: `DATAPLANE_STATUS`, `insightOnlineSql`).
 */
import { sql, type SQL } from 'drizzle-orm';
import { RESOURCES } from '@ursa/proto';
import type { Db } from './db.js';
import {
  DATAPLANE_CATEGORY,
  DATAPLANE_STATUS,
  INBOUND_READINESS,
  INBOUNDS,
  insightKindOf,
  insightOnlineSql,
  rowsOf,
  type FullStatus,
  type Tx,
} from './insight-queries.js';
import { resources, statusResources } from './schema.js';

const DATAPLANE = 'Dataplane';
const SERVICE_TAG = 'kuma.io/service';
const ZONE_TAG = 'kuma.io/zone';

export type DataplaneCategory = 'standard' | 'gatewayBuiltin' | 'gatewayDelegated';
/** Kuma's `ServiceInsight.Service.Type`, as its JSON spells it. */
export type ServiceType = 'internal' | 'gateway_builtin' | 'gateway_delegated' | 'external';

export interface MeshInsightCounts {
  readonly dataplanesByType: Record<DataplaneCategory, FullStatus>;
  readonly dpVersions: { kumaDp: Record<string, FullStatus>; envoy: Record<string, FullStatus> };
  readonly mTLS: { issuedBackends: Record<string, FullStatus>; supportedBackends: Record<string, FullStatus> };
  /** Live resources per mesh-scoped kind (every such kind, 0 when none). */
  readonly byKind: Record<string, number>;
  readonly services: { internal: number; external: number };
}

export interface ServiceCounts {
  readonly mesh: string;
  readonly name: string;
  readonly serviceType: ServiceType;
  /** Instances: one per inbound (or gateway) carrying the service tag; online when its dataplane is. */
  readonly total: number;
  readonly online: number;
  readonly zones: string[];
}

const empty = (): FullStatus => ({ total: 0, online: 0, offline: 0, partiallyDegraded: 0 });
const STATUS_FIELD = { online: 'online', offline: 'offline', partiallyDegraded: 'partiallyDegraded' } as const;
const MESH_KINDS = RESOURCES.filter((d) => d.scope === 'mesh').map((d) => d.kind);

export class MeshInsightQueries {
  constructor(private readonly db: Db) {}

  /** MeshInsight numbers for each of `meshes` (a page of them), from one snapshot. */
  async meshInsights(tenant: string, meshes: readonly string[]): Promise<Map<string, MeshInsightCounts>> {
    const out = new Map<string, MeshInsightCounts>();
    if (meshes.length === 0) return out;
    for (const m of meshes) {
      out.set(m, {
        dataplanesByType: { standard: empty(), gatewayBuiltin: empty(), gatewayDelegated: empty() },
        dpVersions: { kumaDp: {}, envoy: {} },
        mTLS: { issuedBackends: {}, supportedBackends: {} },
        byKind: Object.fromEntries(MESH_KINDS.map((k) => [k, 0])),
        services: { internal: 0, external: 0 },
      });
    }
    return this.db.transaction(
      async (tx) => {
        const cte = classified(tenant, meshes);
        // One grouped query for every per-dataplane breakdown: `section` says which map a row counts into.
        const rows = rowsOf<{ section: string; mesh: string; key: string; status: keyof typeof STATUS_FIELD; n: number | string }>(
          await tx.execute(sql`${cte}
            select 'type' as section, mesh, category as key, status, count(*)::int as n from classified group by mesh, category, status
            union all
            select 'kumaDp', mesh, coalesce(ins #>> '{subscriptions,-1,version,kumaDp,version}', 'unknown'), status, count(*)::int from classified group by 2, 3, 4
            union all
            select 'envoy', mesh, coalesce(ins #>> '{subscriptions,-1,version,envoy,version}', 'unknown'), status, count(*)::int from classified group by 2, 3, 4
            union all
            select 'issued', mesh, ins #>> '{mTLS,issuedBackend}', status, count(*)::int from classified
              where ins #>> '{mTLS,issuedBackend}' is not null group by 2, 3, 4
            union all
            select 'supported', c.mesh, b.backend, c.status, count(*)::int from classified c
              cross join lateral jsonb_array_elements_text(case when jsonb_typeof(c.ins #> '{mTLS,supportedBackends}') = 'array' then c.ins #> '{mTLS,supportedBackends}' else '[]'::jsonb end) as b(backend)
              group by 2, 3, 4`),
        );
        for (const r of rows) {
          const m = out.get(r.mesh);
          if (!m) continue;
          const map =
            r.section === 'type' ? (m.dataplanesByType as Record<string, FullStatus>)
            : r.section === 'kumaDp' ? m.dpVersions.kumaDp
            : r.section === 'envoy' ? m.dpVersions.envoy
            : r.section === 'issued' ? m.mTLS.issuedBackends
            : m.mTLS.supportedBackends;
          const stat = (map[r.key] ??= empty());
          stat.total += Number(r.n);
          stat[STATUS_FIELD[r.status]] += Number(r.n);
        }
        const kinds = rowsOf<{ mesh: string; kind: string; n: number | string }>(
          await tx.execute(sql`select mesh, kind, count(*)::int as n from ${resources}
            where tenant_id = ${tenant} and not deleted and mesh in (${inList(meshes)}) group by mesh, kind
            union all select mesh, kind, count(*)::int from ${statusResources}
            where tenant_id = ${tenant} and mesh in (${inList(meshes)}) group by mesh, kind`),
        );
        for (const k of kinds) {
          const m = out.get(k.mesh);
          if (m && k.kind in m.byKind) m.byKind[k.kind] = Number(k.n);
        }
        for (const s of await this.services(tx, tenant, meshes)) {
          const m = out.get(s.mesh);
          if (m) m.services[s.serviceType === 'external' ? 'external' : 'internal'] += 1;
        }
        return out;
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  }

  /** Every service of `meshes` (all meshes when undefined), sorted by mesh then name as Kuma lists them. */
  async serviceInsights(tenant: string, meshes: readonly string[] | undefined): Promise<ServiceCounts[]> {
    return this.db.transaction((tx) => this.services(tx, tenant, meshes), { isolationLevel: 'repeatable read', accessMode: 'read only' });
  }

  private async services(tx: Tx, tenant: string, meshes: readonly string[] | undefined): Promise<ServiceCounts[]> {
    if (meshes?.length === 0) return [];
    const rows = rowsOf<{ mesh: string; service: string; category: string; n: number | string; up: number | string; zones: string[] | string | null }>(
      await tx.execute(sql`${classified(tenant, meshes)},
        instances as (
          select c.mesh, c.category, s.service, s.zone, c.status
          from classified c cross join lateral (
            select x -> 'tags' ->> ${SERVICE_TAG}::text as service, coalesce(x -> 'tags' ->> ${ZONE_TAG}::text, c.labels ->> ${ZONE_TAG}::text) as zone
            from jsonb_array_elements(case when c.category = 'standard' then ${INBOUNDS} else '[]'::jsonb end) x
            union all
            select c.net -> 'gateway' -> 'tags' ->> ${SERVICE_TAG}::text, coalesce(c.net -> 'gateway' -> 'tags' ->> ${ZONE_TAG}::text, c.labels ->> ${ZONE_TAG}::text)
            where c.category <> 'standard'
          ) s
          where s.service is not null
        )
        select mesh, service, min(category) as category, count(*)::int as n,
               count(*) filter (where status = 'online')::int as up,
               coalesce(jsonb_agg(distinct zone) filter (where zone is not null), '[]'::jsonb) as zones
        from instances group by mesh, service order by mesh, service`),
    );
    return rows.map((r) => ({
      mesh: r.mesh,
      name: r.service,
      serviceType: r.category === 'gatewayBuiltin' ? 'gateway_builtin' : r.category === 'gatewayDelegated' ? 'gateway_delegated' : 'internal',
      total: Number(r.n),
      online: Number(r.up),
      // jsonb comes back parsed or as text, depending on the driver.
      zones: [...((typeof r.zones === 'string' ? JSON.parse(r.zones) : r.zones) ?? [])].sort() as string[],
    }));
  }
}

const inList = (values: readonly string[]): SQL => sql.join(values.map((v) => sql`${v}`), sql`, `);

/**
 * `with dp as (...), classified as (...)`: each live Dataplane of the tenant (in `meshes`, or all) with its
 * insight (`ins`), labels, networking, category and status.
 */
function classified(tenant: string, meshes: readonly string[] | undefined): SQL {
  const inMeshes = meshes ? sql`and o.mesh in (${inList(meshes)})` : sql``;
  return sql`with dp as (
      select o.mesh, o.labels, o.spec -> 'networking' as net, i.spec as ins, ${insightOnlineSql(sql`i.spec`)} as proxy_online
      from ${resources} o
      left join ${resources} i
        on i.tenant_id = o.tenant_id and i.kind = ${insightKindOf(DATAPLANE)}::text and i.mesh = o.mesh and i.name = o.name and not i.deleted
      where o.tenant_id = ${tenant} and o.kind = ${DATAPLANE}::text and not o.deleted ${inMeshes}
    ),
    classified as (
      select dp.mesh, dp.labels, dp.net, dp.ins, ${DATAPLANE_CATEGORY} as category, ${DATAPLANE_STATUS} as status
      from dp cross join lateral ${INBOUND_READINESS} ib
    )`;
}
