/**
 * The global's Prometheus metrics (Node entry only; prom-client is not for workerd). Kuma's family names where
 * Kuma has one (`cp_info`, `api_server_http_*`, `kds_delta_*`); Ursa's own under `ursa_*`: the change-feed
 * revision and, per zone, the revision it applied and how many it is behind. The feed revision is read from
 * the store at scrape time, for each tenant a zone of this process reported from (and the default tenant).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { BASED_ON_KUMA, type KdsStore, type Metrics, PRODUCT, type ResourceStore, VERSION } from '@ursa/core';

export interface GlobalMetrics extends Metrics {
  readonly registry: Registry;
  /** One resource-store call (the store's `observe` hook). */
  storeOperation(operation: string, resourceType: string, seconds: number): void;
  /** The Prometheus text (`GET /metrics`). */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createGlobalMetrics(opts: { instanceId: string; defaultTenant: string; resources: ResourceStore; kds: KdsStore }): GlobalMetrics {
  const registry = new Registry();
  // The process's own (`process_resident_memory_bytes`, `nodejs_heap_size_used_bytes`, event-loop lag, GC), as kuma-cp exposes Go's.
  collectDefaultMetrics({ register: registry });
  new Gauge({ name: 'cp_info', help: 'Control plane build and instance', labelNames: ['instance_id', 'product', 'version', 'based_on_kuma', 'mode'], registers: [registry] })
    .labels(opts.instanceId, PRODUCT, VERSION, BASED_ON_KUMA, 'global')
    .set(1);
  const requests = new Counter({ name: 'api_server_http_requests_total', help: 'API requests by method, route and status code', labelNames: ['method', 'handler', 'code'], registers: [registry] });
  const duration = new Histogram({
    name: 'api_server_http_request_duration_seconds',
    help: 'API request duration',
    labelNames: ['method', 'handler'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const streams = new Gauge({ name: 'kds_delta_streams_active', help: 'Open KDS WebSocket sessions with zones (long-poll sessions are requests)', labelNames: ['transport'], registers: [registry] });
  streams.labels('ws').set(0);
  const sent = new Counter({ name: 'kds_delta_responses_sent', help: 'KDS delta frames sent to zones', labelNames: ['tenant', 'zone_name'], registers: [registry] });
  const applied = new Map<string, { tenant: string; zone: string; revision: number }>();
  const appliedGauge = new Gauge({ name: 'ursa_zone_applied_revision', help: 'The global revision each zone reported as applied (zones connected to this process)', labelNames: ['tenant', 'zone_name'], registers: [registry] });
  const feed = new Gauge({ name: 'ursa_feed_revision', help: "The tenant's change-feed revision", labelNames: ['tenant'], registers: [registry] });
  const behind = new Gauge({
    name: 'ursa_zone_revisions_behind',
    help: "Change-feed revisions a zone has not applied yet (propagation lag in revisions; counts changes that do not travel to zones too)",
    labelNames: ['tenant', 'zone_name'],
    registers: [registry],
  });

  const zones = new Gauge({ name: 'ursa_zones', help: "The tenant's zones by status: online (a live lease) or offline", labelNames: ['tenant', 'status'], registers: [registry] });
  const lagSeconds = new Gauge({
    name: 'ursa_zone_lag_seconds',
    help: 'How long ago the oldest change a zone has not applied was written (0 when the zone is up to date)',
    labelNames: ['tenant', 'zone_name'],
    registers: [registry],
  });
  // Kuma's store summary (pkg/core/resources/store/metered_store.go): seconds per call, by operation and type.
  const store = new Summary({
    name: 'store',
    help: 'Summary of Store operations',
    labelNames: ['operation', 'resource_type'],
    percentiles: [0.5, 0.9, 0.99],
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers: [registry],
  });

  return {
    registry,
    storeOperation(operation, resourceType, seconds) {
      store.labels(operation, resourceType).observe(seconds);
    },
    httpRequest(method, handler, status, seconds) {
      requests.labels(method, handler, String(status)).inc();
      duration.labels(method, handler).observe(seconds);
    },
    kdsStream(transport, delta) {
      streams.labels(transport).inc(delta);
    },
    kdsResponseSent(tenant, zone) {
      sent.labels(tenant, zone).inc();
    },
    zoneApplied(tenant, zone, revision) {
      applied.set(`${tenant}/${zone}`, { tenant, zone, revision });
      appliedGauge.labels(tenant, zone).set(revision);
    },
    async render() {
      const tenants = new Set([opts.defaultTenant, ...[...applied.values()].map((a) => a.tenant)]);
      const revisions = new Map<string, number>();
      for (const t of tenants) {
        // A scrape while the database is away still answers, without the feed gauges.
        const r = await opts.resources.currentRevision(t).catch(() => undefined);
        if (r === undefined) continue;
        revisions.set(t, r);
        feed.labels(t).set(r);
        const [total, online] = await Promise.all([opts.resources.list(t, 'Zone', { limit: 1 }).then((l) => l.total), opts.kds.onlineCount(t)]).catch(() => [undefined, undefined]);
        if (total !== undefined && online !== undefined) {
          zones.labels(t, 'online').set(online);
          zones.labels(t, 'offline').set(Math.max(0, total - online));
        }
      }
      // Zones at the same revision share one lookup of the first change they miss.
      const since = new Map<string, Promise<Date | undefined>>();
      const now = Date.now();
      for (const a of applied.values()) {
        const r = revisions.get(a.tenant);
        if (r === undefined) continue;
        behind.labels(a.tenant, a.zone).set(Math.max(0, r - a.revision));
        if (a.revision >= r) {
          lagSeconds.labels(a.tenant, a.zone).set(0);
          continue;
        }
        const key = `${a.tenant} ${a.revision}`;
        if (!since.has(key)) since.set(key, opts.resources.firstChangeAfter(a.tenant, a.revision).catch(() => undefined));
        const at = await since.get(key)!;
        if (at) lagSeconds.labels(a.tenant, a.zone).set(Math.max(0, (now - at.getTime()) / 1000));
      }
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
