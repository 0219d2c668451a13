/**
 * ZoneInsight (`api/system/v1alpha1/zone_insight.proto`, `kuma-multizone.md` §3.2):
 * `{subscriptions[KDSSubscription], envoyAdminStreams (deprecated), healthCheck{time}, kdsStreams{...}}`.
 * Written by the system only. uint64 counters come as protojson strings (`"responsesSent": "22"`), and `status.stat`
 * is keyed by resource type name.
 */
import { z } from 'zod';
import { uint32 } from '../common.js';
import { array, bool, obj, str, timestamp, uint64 } from './shared.js';

const kdsServiceStats = () =>
  obj({
    responsesSent: uint64().optional(),
    responsesAcknowledged: uint64().optional(),
    responsesRejected: uint64().optional(),
  });

/** `KDSSubscription`: one KDS stream between a zone CP and the global. */
const kdsSubscription = obj({
  id: str().optional(),
  globalInstanceId: str().optional(),
  zoneInstanceId: str().optional(),
  connectTime: timestamp().optional(),
  disconnectTime: timestamp().optional(),
  status: obj({
    lastUpdateTime: timestamp().optional(),
    total: kdsServiceStats().optional(),
    stat: z.record(z.string(), kdsServiceStats(), { error: 'must be an object keyed by resource type' }).optional(),
  }).optional(),
  version: obj({
    kumaCp: obj({
      version: str().optional(),
      gitTag: str().optional(),
      gitCommit: str().optional(),
      buildDate: str().optional(),
      kumaCpGlobalCompatible: bool().optional(),
    }).optional(),
  }).optional(),
  generation: uint32().optional(),
  /** The zone CP's configuration, rendered as a JSON string. */
  config: str().optional(),
  authTokenProvided: bool().optional(),
  /** Ursa: the zone's own view of the session (applied global revision, last error it reported). */
  zoneState: obj({
    appliedRevision: uint64().optional(),
    lastError: str().optional(),
    reportedTime: timestamp().optional(),
  }).optional(),
});

const kdsStream = () =>
  obj({
    globalInstanceId: str().optional(),
    connectTime: timestamp().optional(),
  });

export const zoneInsightSpec = obj({
  subscriptions: array(kdsSubscription).optional(),
  envoyAdminStreams: obj({
    configDumpGlobalInstanceId: str().optional(),
    statsGlobalInstanceId: str().optional(),
    clustersGlobalInstanceId: str().optional(),
  }).optional(),
  healthCheck: obj({ time: timestamp().optional() }).optional(),
  kdsStreams: obj({
    clusters: kdsStream().optional(),
    configDump: kdsStream().optional(),
    stats: kdsStream().optional(),
    globalToZone: kdsStream().optional(),
    zoneToGlobal: kdsStream().optional(),
  }).optional(),
});
