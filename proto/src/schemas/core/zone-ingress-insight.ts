/**
 * ZoneIngressInsight (`api/mesh/v1alpha1/zone_ingress_insight.proto`): `{subscriptions[DiscoverySubscription], metadata}`.
 * Written by the system only; counters come as protojson uint64 strings (`"responsesSent": "10"`).
 */
import { zoneProxyInsight } from './shared.js';

export const zoneIngressInsightSpec = zoneProxyInsight();
