/**
 * What shared code counts, as an interface: the Node entries back it with a Prometheus registry (prom-client,
 * served at `/metrics`); the Worker passes nothing (`noMetrics`), since Workers have no scrape endpoint per
 * isolate (Workers Analytics and the JSON logs replace it there). No Node module here.
 */
export interface Metrics {
  /** An API request ended: `handler` is the matched route pattern (bounded cardinality), not the path. */
  httpRequest(method: string, handler: string, status: number, seconds: number): void;
  /** A KDS WebSocket session opened (+1) or closed (-1). */
  kdsStream(transport: string, delta: 1 | -1): void;
  /** A delta frame went to a zone. */
  kdsResponseSent(tenant: string, zone: string): void;
  /** A zone reported the global revision it has applied. */
  zoneApplied(tenant: string, zone: string, revision: number): void;
}

export const noMetrics: Metrics = { httpRequest() {}, kdsStream() {}, kdsResponseSent() {}, zoneApplied() {} };
