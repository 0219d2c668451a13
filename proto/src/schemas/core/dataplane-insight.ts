/**
 * DataplaneInsight (`api/mesh/v1alpha1/dataplane_insight.proto`, `kuma-multizone.md` §3.8):
 * `{subscriptions[DiscoverySubscription], mTLS{...}, metadata, openTelemetry{backends[...]}}`.
 * Written by the system only; timestamps are RFC 3339 strings, uint64 counters protojson strings.
 */
import { uint32 } from '../common.js';
import { array, bool, discoverySubscription, obj, str, stringList, struct, timestamp } from './shared.js';

const otelSignal = () =>
  obj({
    enabled: bool().optional(),
    envAllowed: bool().optional(),
    envInputPresent: bool().optional(),
    state: str().optional(),
    overrideKinds: stringList().optional(),
    missingFields: stringList().optional(),
    blockedReasons: stringList().optional(),
  });

export const dataplaneInsightSpec = obj({
  subscriptions: array(discoverySubscription()).optional(),
  mTLS: obj({
    certificateExpirationTime: timestamp().optional(),
    lastCertificateRegeneration: timestamp().optional(),
    certificateRegenerations: uint32().optional(),
    issuedBackend: str().optional(),
    supportedBackends: stringList().optional(),
  }).optional(),
  metadata: struct().optional(),
  openTelemetry: obj({
    backends: array(
      obj({
        name: str().optional(),
        traces: otelSignal().optional(),
        logs: otelSignal().optional(),
        metrics: otelSignal().optional(),
      }),
    ).optional(),
  }).optional(),
});
