/**
 * Aggregate queries behind `GET /global-insight`: counts of zones, zone proxies, dataplanes and services
 * with their online state, computed in SQL over the `resources` table and the zones' KDS leases
 * (`zone_sessions`), never by loading a tenant's resources into memory. Everything is read in one
 * repeatable-read snapshot, so the numbers agree with each other. The SQL sticks to what PostgreSQL 15 and
 * PGlite both run (jsonb operators, jsonpath, `count(*) filter`, lateral joins, `exists`).
 *
 * Kuma computes the same numbers from its MeshInsight / ServiceInsight resyncer
 * (`pkg/insights/resyncer.go`, `pkg/insights/globalinsight/global_insight_service.go`); the status rules
 * below are Kuma's, cited where they are implemented, except zone liveness, which is Ursa's lease
 * (`zoneOnlineSql`).
 */
import { sql, type SQL } from 'drizzle-orm';
import { descriptorFor, RESOURCES } from '@ursa/proto';
import type { Db } from './db.js';
import type { ResourceStore } from './resource-store.js';
import { resources, statusResources, zoneSessions } from './schema.js';

/** `{total, online, offline, partiallyDegraded}` (Kuma's `FullStatus`). */
export interface FullStatus {
  total: number;
  online: number;
  offline: number;
  partiallyDegraded: number;
}

/** `{online, total}` (Kuma's `BaseStatus`). */
export interface BaseStatus {
  online: number;
  total: number;
}

export interface InsightCounts {
  /** Live resources per kind (every kind of the descriptor table, 0 when none). */
  readonly byKind: ReadonlyMap<string, number>;
  readonly zones: { controlPlanes: BaseStatus; zoneIngresses: BaseStatus; zoneEgresses: BaseStatus };
  readonly dataplanes: { standard: FullStatus; gatewayBuiltin: FullStatus; gatewayDelegated: FullStatus };
  readonly services: { internal: FullStatus; gatewayBuiltin: FullStatus; gatewayDelegated: FullStatus };
}

// The Kuma kinds the global insight is about. The global insight is Kuma's fixed report, so it names
// them; their insight kinds still come from the descriptor table (`insightOf`).
const ZONE = 'Zone';
const ZONE_INGRESS = 'ZoneIngress';
const ZONE_EGRESS = 'ZoneEgress';
const DATAPLANE = 'Dataplane';
const SERVICE_TAG = 'kuma.io/service';

export function insightKindOf(kind: string): string {
  if (!descriptorFor(kind)) throw new Error(`insight-queries: unknown kind ${kind}`);
  const insight = RESOURCES.find((d) => d.insightOf === kind);
  if (!insight) throw new Error(`insight-queries: no insight kind describes ${kind}`);
  return insight.kind;
}

// ---------------------------------------------------------------------------------------------------------------------
// Online rules. Each is one SQL expression, defined here and nowhere else.
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Kuma's `IsOnline()` for every insight with `subscriptions` (ZoneInsight, DataplaneInsight,
 * ZoneIngressInsight, ZoneEgressInsight): some subscription has a `connectTime` and no `disconnectTime`.
 * A missing insight (`NULL` from a left join) is offline.
 */
const ONLINE_SUBSCRIPTION = '$.subscriptions[*] ? (exists(@.connectTime) && !(exists(@.disconnectTime)))';
export function insightOnlineSql(insightSpec: SQL): SQL {
  return sql`coalesce(jsonb_path_exists(${insightSpec}, ${ONLINE_SUBSCRIPTION}::jsonpath), false)`;
}

/**
 * THE zone-online rule: a Zone is online iff it is enabled (`enabled` absent means enabled, as
 * `kumactl inspect zones` shows it, `kuma-multizone.md` §3.3) AND it holds a live KDS lease: its
 * `zone_sessions` row (same tenant, zone name = the Zone's name) has `lease_expires_at > now()`.
 *
 * Kuma derives zone liveness from the ZoneInsight's subscriptions, so a zone whose global replica died keeps
 * an open subscription and shows Online for minutes, until another replica's finalizer closes it. Ursa uses
 * the lease instead: KDS sessions renew it on every heartbeat and close it on a clean disconnect; when the
 * agent or the replica holding the session dies, the lease simply runs out (≤ its TTL). ZoneInsight
 * subscriptions are still recorded (connect / disconnect history) but never decide Online here; the zone
 * overviews close a subscription the lease says is dead (`kds/liveness.ts`), so kumactl agrees.
 *
 * This is the only place that decides whether a zone is online; the global insight (and anything else that
 * asks) follows it. Zone ingress / egress and dataplane rules stay insight-based (`insightOnlineSql`): those
 * insights are synced from the zones, whose control planes finalize them.
 *
 * `tenant`, `name` and `spec` are SQL expressions for the Zone row's tenant id, name and spec.
 */
export function zoneOnlineSql(zone: { tenant: SQL; name: SQL; spec: SQL }): SQL {
  return sql`(coalesce(${zone.spec} ->> 'enabled', 'true') <> 'false' and exists (
    select 1 from ${zoneSessions}
    where ${zoneSessions.tenantId} = ${zone.tenant} and ${zoneSessions.zone} = ${zone.name} and ${zoneSessions.leaseExpiresAt} > now()))`;
}

/**
 * Kuma's `DataplaneOverviewResource.Status()` (`pkg/core/resources/apis/mesh/dataplane_overview_helpers.go`):
 * - offline when the proxy's insight is not online;
 * - a gateway (any `networking.gateway`) that is online is online: its inbounds do not count;
 * - otherwise, over the inbounds that are not `state: Ignored`, an inbound is not ready when it has a
 *   `health` whose `ready` is not true, or `state: NotReady`; all of them not ready (including the case of
 *   no counted inbound at all, as Kuma does) is offline, some of them is partially degraded, none is online.
 * Needs `net` (the networking object) and `proxy_online` (boolean) in scope.
 */
export const DATAPLANE_STATUS = sql`case
    when not proxy_online then 'offline'
    when net -> 'gateway' is not null then 'online'
    when ib.not_ready = ib.total then 'offline'
    when ib.not_ready > 0 then 'partiallyDegraded'
    else 'online'
  end`;

/** `standard`, or by `networking.gateway.type` (default DELEGATED, as in Kuma's proto). */
export const DATAPLANE_CATEGORY = sql`case
    when net -> 'gateway' is null then 'standard'
    when net -> 'gateway' ->> 'type' = 'BUILTIN' then 'gatewayBuiltin'
    else 'gatewayDelegated'
  end`;

/** `net -> 'inbound'` as a jsonb array (an empty one when absent). */
export const INBOUNDS = sql`case when jsonb_typeof(net -> 'inbound') = 'array' then net -> 'inbound' else '[]'::jsonb end`;

/** `ib(total, not_ready)` over `net`'s counted inbounds, for `DATAPLANE_STATUS` (a lateral subquery). */
export const INBOUND_READINESS = sql`(
    select count(*) as total,
           count(*) filter (where (x -> 'health' is not null and coalesce(x -> 'health' ->> 'ready', 'false') <> 'true')
                               or x ->> 'state' = 'NotReady') as not_ready
    from jsonb_array_elements(${INBOUNDS}) x
    where coalesce(x ->> 'state', '') <> 'Ignored'
  )`;

// ---------------------------------------------------------------------------------------------------------------------

export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Rows of `execute`: postgres.js returns an array, PGlite an object with `rows`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

const emptyFull = (): FullStatus => ({ total: 0, online: 0, offline: 0, partiallyDegraded: 0 });

export class InsightQueries {
  constructor(private readonly db: Db) {}

  /** Every count of the global insight for one tenant, from one snapshot. */
  async counts(tenant: string): Promise<InsightCounts> {
    return this.db.transaction(
      async (tx) => {
        const byKind = await this.countByKind(tx, tenant);
        const zones = await this.zoneCounts(tx, tenant);
        const { dataplanes, services } = await this.dataplaneAndServiceCounts(tx, tenant);
        return { byKind, zones, dataplanes, services };
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  }

  private async countByKind(tx: Tx, tenant: string): Promise<Map<string, number>> {
    const rows = rowsOf<{ kind: string; n: number | string }>(
      await tx.execute(sql`select kind, count(*)::int as n from ${resources} where tenant_id = ${tenant} and not deleted group by kind
        union all select kind, count(*)::int from ${statusResources} where tenant_id = ${tenant} group by kind`),
    );
    const out = new Map<string, number>(RESOURCES.map((d) => [d.kind, 0]));
    for (const r of rows) out.set(r.kind, Number(r.n));
    return out;
  }

  /** Zones (online by `zoneOnlineSql`, their lease) and zone ingresses / egresses (online by their insight, joined in). */
  private async zoneCounts(tx: Tx, tenant: string): Promise<InsightCounts['zones']> {
    const kinds = [ZONE, ZONE_INGRESS, ZONE_EGRESS];
    const insightKind = sql`case o.kind ${sql.join(
      kinds.map((k) => sql`when ${k}::text then ${insightKindOf(k)}::text`),
      sql` `,
    )} end`;
    const online = sql`case when o.kind = ${ZONE}::text then ${zoneOnlineSql({ tenant: sql`o.tenant_id`, name: sql`o.name`, spec: sql`o.spec` })} else ${insightOnlineSql(sql`i.spec`)} end`;
    const rows = rowsOf<{ kind: string; total: number | string; online: number | string }>(
      await tx.execute(sql`
        select o.kind, count(*)::int as total, count(*) filter (where ${online})::int as online
        from ${resources} o
        left join ${resources} fi
          on fi.tenant_id = o.tenant_id and fi.kind = ${insightKind} and fi.mesh = o.mesh and fi.name = o.name and not fi.deleted
        left join ${statusResources} si
          on si.tenant_id = o.tenant_id and si.kind = ${insightKind} and si.mesh = o.mesh and si.name = o.name
        cross join lateral (select coalesce(fi.spec, si.spec) as spec) i
        where o.tenant_id = ${tenant} and o.kind in (${sql.join(kinds.map((k) => sql`${k}::text`), sql`, `)}) and not o.deleted
        group by o.kind`),
    );
    const get = (kind: string): BaseStatus => {
      const r = rows.find((x) => x.kind === kind);
      return { online: Number(r?.online ?? 0), total: Number(r?.total ?? 0) };
    };
    return { controlPlanes: get(ZONE), zoneIngresses: get(ZONE_INGRESS), zoneEgresses: get(ZONE_EGRESS) };
  }

  /**
   * Dataplanes by category and status, and services (Kuma's ServiceInsight): every distinct
   * `kuma.io/service` per mesh, from standard dataplanes' inbounds (`internal`) and from gateways' tags
   * (`gatewayBuiltin` / `gatewayDelegated`). Each (dataplane, service) pair is an instance, online when its
   * dataplane's status is online (Kuma counts a partially degraded dataplane as an offline instance); a
   * service is online when all its instances are, offline when none is, partially degraded otherwise.
   */
  private async dataplaneAndServiceCounts(tx: Tx, tenant: string): Promise<Pick<InsightCounts, 'dataplanes' | 'services'>> {
    const rows = rowsOf<{ section: string; category: string; total: number | string; online: number | string; offline: number | string; degraded: number | string }>(
      await tx.execute(sql`
        with dp as (
          select o.mesh, o.spec -> 'networking' as net, ${insightOnlineSql(sql`i.spec`)} as proxy_online
          from ${resources} o
          left join ${resources} i
            on i.tenant_id = o.tenant_id and i.kind = ${insightKindOf(DATAPLANE)}::text and i.mesh = o.mesh and i.name = o.name and not i.deleted
          where o.tenant_id = ${tenant} and o.kind = ${DATAPLANE}::text and not o.deleted
        ),
        classified as (
          select dp.mesh, dp.net, ${DATAPLANE_CATEGORY} as category, ${DATAPLANE_STATUS} as status
          from dp cross join lateral ${INBOUND_READINESS} ib
        ),
        instances as (
          select c.mesh, case when c.category = 'standard' then 'internal' else c.category end as category, s.service, c.status
          from classified c cross join lateral (
            select x -> 'tags' ->> ${SERVICE_TAG}::text as service
            from jsonb_array_elements(case when c.category = 'standard' then ${INBOUNDS} else '[]'::jsonb end) x
            union all
            select c.net -> 'gateway' -> 'tags' ->> ${SERVICE_TAG}::text where c.category <> 'standard'
          ) s
          where s.service is not null
        ),
        services as (
          select mesh, category, service, count(*) as n, count(*) filter (where status = 'online') as up
          from instances group by mesh, category, service
        )
        select 'dataplanes' as section, category, count(*)::int as total,
               count(*) filter (where status = 'online')::int as online,
               count(*) filter (where status = 'offline')::int as offline,
               count(*) filter (where status = 'partiallyDegraded')::int as degraded
        from classified group by category
        union all
        select 'services', category, count(*)::int,
               count(*) filter (where up = n)::int,
               count(*) filter (where up = 0)::int,
               count(*) filter (where up > 0 and up < n)::int
        from services group by category`),
    );
    const pick = (section: string, category: string): FullStatus => {
      const r = rows.find((x) => x.section === section && x.category === category);
      if (!r) return emptyFull();
      return { total: Number(r.total), online: Number(r.online), offline: Number(r.offline), partiallyDegraded: Number(r.degraded) };
    };
    return {
      dataplanes: { standard: pick('dataplanes', 'standard'), gatewayBuiltin: pick('dataplanes', 'gatewayBuiltin'), gatewayDelegated: pick('dataplanes', 'gatewayDelegated') },
      services: { internal: pick('services', 'internal'), gatewayBuiltin: pick('services', 'gatewayBuiltin'), gatewayDelegated: pick('services', 'gatewayDelegated') },
    };
  }
}
