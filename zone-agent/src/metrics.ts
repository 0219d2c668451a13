/**
 * The zone agent's Prometheus metrics (`GET /metrics` on the zone API, no token, as the global's): `cp_info`,
 * Kuma's `api_server_http_*`, and the KDS client's state read at scrape (connected, sessions, applied
 * revision). Loaded on the first scrape (`agent.ts`), so prom-client stays off the start-up path; requests
 * are counted from then on (Prometheus scrapes from the start, so that is the agent's first seconds).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { BASED_ON_KUMA, type Metrics, PRODUCT, VERSION } from '@ursa/core';
import type { DnsStats } from './dns/server.js';
import type { XdsMetrics } from './xds/component.js';

export interface KdsStatusView {
  readonly connected: boolean;
  readonly transport: string;
  readonly lastRevision: number;
  readonly sessions: number;
}

export interface ZoneMetrics extends Pick<Metrics, 'httpRequest'>, XdsMetrics {
  /** One resource-store call (the store's `observe` hook). */
  storeOperation(operation: string, resourceType: string, seconds: number): void;
  render(): Promise<{ contentType: string; body: string }>;
}

/** Short type names in labels (`Cluster`, not the whole type URL): bounded and readable. */
const shortType = (typeUrl: string) => typeUrl.slice(typeUrl.lastIndexOf('.') + 1);

export function createZoneMetrics(opts: { instanceId: string; zone: string; kds: () => KdsStatusView | undefined; xdsStreams: () => number; certExpiry: () => Map<string, Date>; dnsStats: () => Promise<DnsStats | undefined> }): ZoneMetrics {
  const registry = new Registry();
  // The process's own (`process_resident_memory_bytes`, `nodejs_heap_size_used_bytes`, event-loop lag, GC), as kuma-cp exposes Go's.
  collectDefaultMetrics({ register: registry });
  new Gauge({ name: 'cp_info', help: 'Control plane build and instance', labelNames: ['instance_id', 'product', 'version', 'based_on_kuma', 'mode', 'zone'], registers: [registry] })
    .labels(opts.instanceId, PRODUCT, VERSION, BASED_ON_KUMA, 'zone', opts.zone)
    .set(1);
  const requests = new Counter({ name: 'api_server_http_requests_total', help: 'API requests by method, route and status code', labelNames: ['method', 'handler', 'code'], registers: [registry] });
  const duration = new Histogram({ name: 'api_server_http_request_duration_seconds', help: 'API request duration', labelNames: ['method', 'handler'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const connected = new Gauge({ name: 'ursa_kds_connected', help: 'Whether the zone has a KDS session with the global (1) or not (0)', labelNames: ['transport'], registers: [registry] });
  const sessions = new Gauge({ name: 'ursa_kds_sessions', help: 'KDS sessions started since the agent started', labelNames: ['transport'], registers: [registry] });
  const applied = new Gauge({ name: 'ursa_zone_applied_revision', help: 'The global revision this zone has applied', registers: [registry] });
  // Kuma's xDS families (pkg/util/xds/stats_callbacks.go, pkg/xds/server): streams, responses, ACK/NACK requests,
  // and the generation time in milliseconds (Kuma observes milliseconds too).
  new Gauge({ name: 'xds_streams_active', help: 'Open ADS streams', registers: [registry], collect() { this.set(opts.xdsStreams()); } });
  const responses = new Counter({ name: 'xds_responses_sent', help: 'xDS responses sent, by resource type', labelNames: ['type_url'], registers: [registry] });
  const xdsRequests = new Counter({ name: 'xds_requests_received', help: 'xDS requests that answered a response, by confirmation (ACK, NACK) and type', labelNames: ['confirmation', 'type_url'], registers: [registry] });
  const generation = new Histogram({ name: 'xds_generation', help: 'Time of one xDS generation pass over the connected proxies, in milliseconds', labelNames: ['result'], buckets: [1, 5, 10, 25, 50, 100, 200, 500, 1000, 5000], registers: [registry] });
  const generationErrors = new Counter({ name: 'xds_generation_errors', help: 'xDS generation passes that failed', registers: [registry] });
  // The resolver runs on its own thread and counts there; its totals are read at scrape.
  const dnsQueries = new Counter({ name: 'ursa_dns_queries_total', help: 'DNS queries the zone resolver received (UDP and TCP)', registers: [registry] });
  const dnsAnswers = new Counter({ name: 'ursa_dns_answers_total', help: 'DNS queries by outcome: local (.mesh), forwarded, servfail, formerr, notimp, dropped, error', labelNames: ['outcome'], registers: [registry] });
  // Kuma's name and label (pkg/xds/metrics): remaining lifetime is `xds_cert_expiration_timestamp_seconds - time()`.
  const certExpiry = new Gauge({
    name: 'xds_cert_expiration_timestamp_seconds',
    help: "Unix time (seconds) when the mesh's first-expiring workload certificate held by this agent expires",
    labelNames: ['mesh'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [mesh, at] of opts.certExpiry()) this.labels(mesh).set(Math.floor(at.getTime() / 1000));
    },
  });
  void certExpiry;
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
    storeOperation(operation, resourceType, seconds) {
      store.labels(operation, resourceType).observe(seconds);
    },
    httpRequest(method, handler, status, seconds) {
      requests.labels(method, handler, String(status)).inc();
      duration.labels(method, handler).observe(seconds);
    },
    response(typeUrl) {
      responses.labels(shortType(typeUrl)).inc();
    },
    request(confirmation, typeUrl) {
      xdsRequests.labels(confirmation, shortType(typeUrl)).inc();
    },
    generation(ms, ok) {
      generation.labels(ok ? 'success' : 'error').observe(ms);
      if (!ok) generationErrors.inc();
    },
    async render() {
      const dns = await opts.dnsStats();
      if (dns) {
        dnsQueries.reset();
        dnsQueries.inc(dns.queries);
        dnsAnswers.reset();
        for (const [outcome, n] of [['local', dns.local], ['forwarded', dns.forwarded], ['servfail', dns.servfail], ['formerr', dns.formerr], ['notimp', dns.notimp], ['dropped', dns.dropped], ['error', dns.errors]] as const) dnsAnswers.labels(outcome).inc(n);
      }
      const s = opts.kds();
      if (s) {
        connected.labels(s.transport).set(s.connected ? 1 : 0);
        sessions.labels(s.transport).set(s.sessions);
        applied.set(s.lastRevision);
      }
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
