/**
 * The zone registry on the global: a Zone is created on first connect (enabled), and its ZoneInsight
 * records each session as a Kuma `KDSSubscription` (connect/disconnect time, instances, agent version,
 * config, counters). Liveness itself is the lease in `zone_sessions`, not these records.
 */
import type { ResourceStore } from '../store/resource-store.js';

/** Kuma's `metrics.zone.subscriptionLimit`: the newest subscriptions kept per zone. */
const SUBSCRIPTION_LIMIT = 10;

export interface SubscriptionInfo {
  readonly id: string;
  readonly globalInstanceId: string;
  readonly zoneInstanceId: string;
  readonly agentVersion: string;
  readonly config: string;
  readonly transport: 'ws' | 'poll';
}

export interface Counters {
  sent: number;
  acked: number;
  rejected: number;
  byKind: Map<string, { sent: number; acked: number; rejected: number }>;
}

export const newCounters = (): Counters => ({ sent: 0, acked: 0, rejected: 0, byKind: new Map() });

type Subscription = Record<string, unknown> & { id?: string; connectTime?: string; disconnectTime?: string };

/** Creates the Zone (enabled) if it does not exist; returns whether it is enabled. */
export async function ensureZone(store: ResourceStore, tenant: string, zone: string): Promise<boolean> {
  const [r] = await store.apply(tenant, [{ op: 'create', ifAbsent: true, resource: { kind: 'Zone', name: zone, spec: { enabled: true } } }]);
  const spec = r && 'resource' in r ? r.resource.spec : {};
  return spec.enabled !== false;
}

/** Appends a subscription, closing any the previous session left open (Kuma's `finalizeSubscriptions`). */
export async function recordConnect(store: ResourceStore, tenant: string, zone: string, s: SubscriptionInfo, now = new Date()): Promise<void> {
  await updateInsight(store, tenant, zone, (subs) => {
    for (const old of subs) if (old.connectTime && !old.disconnectTime) old.disconnectTime = now.toISOString();
    subs.push({
      id: s.id,
      globalInstanceId: s.globalInstanceId,
      zoneInstanceId: s.zoneInstanceId,
      connectTime: now.toISOString(),
      status: { lastUpdateTime: now.toISOString(), total: { responsesSent: '0', responsesAcknowledged: '0', responsesRejected: '0' }, stat: {} },
      version: { kumaCp: { version: s.agentVersion } },
      config: s.config,
      authTokenProvided: true,
    });
    return subs.slice(-SUBSCRIPTION_LIMIT);
  });
}

/** Closes the session's subscription and stores its counters. */
export async function recordDisconnect(store: ResourceStore, tenant: string, zone: string, id: string, counters: Counters, now = new Date()): Promise<void> {
  await updateInsight(store, tenant, zone, (subs) => {
    const sub = subs.find((x) => x.id === id);
    if (!sub) return subs;
    sub.disconnectTime = now.toISOString();
    sub.status = statusOf(counters, now);
    return subs;
  });
}

function statusOf(c: Counters, now: Date) {
  const str = (n: number) => String(n);
  return {
    lastUpdateTime: now.toISOString(),
    total: { responsesSent: str(c.sent), responsesAcknowledged: str(c.acked), responsesRejected: str(c.rejected) },
    stat: Object.fromEntries(
      [...c.byKind].map(([kind, k]) => [kind, { responsesSent: str(k.sent), responsesAcknowledged: str(k.acked), responsesRejected: str(k.rejected) }]),
    ),
  };
}

async function updateInsight(store: ResourceStore, tenant: string, zone: string, change: (subs: Subscription[]) => Subscription[]): Promise<void> {
  // Read-modify-write with the version as expected version; a concurrent writer (another replica) wins and
  // we retry on top of it.
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await store.get(tenant, { kind: 'ZoneInsight', name: zone });
    const subs = structuredClone(((current?.spec.subscriptions as Subscription[] | undefined) ?? []) as Subscription[]);
    const spec = { ...(current?.spec ?? {}), subscriptions: change(subs) };
    try {
      if (current) await store.update(tenant, { kind: 'ZoneInsight', name: zone, labels: current.labels, spec }, { expectedVersion: current.version });
      else await store.create(tenant, { kind: 'ZoneInsight', name: zone, spec });
      return;
    } catch (err) {
      if (!(err instanceof Error && (err.name === 'ConflictError' || err.name === 'AlreadyExistsError'))) throw err;
    }
  }
}
