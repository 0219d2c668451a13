/**
 * The zone agent's Prometheus metrics (`GET /metrics` on the zone API, no token, as the global's): `cp_info`,
 * Kuma's `api_server_http_*`, and the KDS client's state read at scrape (connected, sessions, applied
 * revision). Loaded on the first scrape (`agent.ts`), so prom-client stays off the start-up path; requests
 * are counted from then on (Prometheus scrapes from the start, so that is the agent's first seconds).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BASED_ON_KUMA, type Metrics, PRODUCT, VERSION } from '@ursa/core';

export interface KdsStatusView {
  readonly connected: boolean;
  readonly transport: string;
  readonly lastRevision: number;
  readonly sessions: number;
}

export interface ZoneMetrics extends Pick<Metrics, 'httpRequest'> {
  render(): Promise<{ contentType: string; body: string }>;
}

export function createZoneMetrics(opts: { instanceId: string; zone: string; kds: () => KdsStatusView | undefined }): ZoneMetrics {
  const registry = new Registry();
  new Gauge({ name: 'cp_info', help: 'Control plane build and instance', labelNames: ['instance_id', 'product', 'version', 'based_on_kuma', 'mode', 'zone'], registers: [registry] })
    .labels(opts.instanceId, PRODUCT, VERSION, BASED_ON_KUMA, 'zone', opts.zone)
    .set(1);
  const requests = new Counter({ name: 'api_server_http_requests_total', help: 'API requests by method, route and status code', labelNames: ['method', 'handler', 'code'], registers: [registry] });
  const duration = new Histogram({ name: 'api_server_http_request_duration_seconds', help: 'API request duration', labelNames: ['method', 'handler'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const connected = new Gauge({ name: 'ursa_kds_connected', help: 'Whether the zone has a KDS session with the global (1) or not (0)', labelNames: ['transport'], registers: [registry] });
  const sessions = new Gauge({ name: 'ursa_kds_sessions', help: 'KDS sessions started since the agent started', labelNames: ['transport'], registers: [registry] });
  const applied = new Gauge({ name: 'ursa_zone_applied_revision', help: 'The global revision this zone has applied', registers: [registry] });
  return {
    httpRequest(method, handler, status, seconds) {
      requests.labels(method, handler, String(status)).inc();
      duration.labels(method, handler).observe(seconds);
    },
    async render() {
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
