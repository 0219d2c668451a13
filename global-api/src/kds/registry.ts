/**
 * The zone registry on the global: a Zone is created on first connect (enabled), and its ZoneInsight
 * records each session as a Kuma `KDSSubscription` (connect/disconnect time, instances, agent version,
 * config, counters). Liveness itself is the lease in `zone_sessions`, not these records.
 */
import { type ResourceStore, VERSION, type WriteOp } from '@ursa/core';
import { Coalescer } from '@ursa/core';

/**
 * Kuma's `DeploymentVersionCompatible` (`pkg/version/compatibility.go`): same major version and minor
 * versions at most 2 apart. A version that is not `x.y[.z]` (a dev build) is taken as compatible, as Kuma does.
 */
export function versionsCompatible(zone: string, global: string): boolean {
  const parse = (v: string) => /^v?(\d+)\.(\d+)/.exec(v);
  const z = parse(zone);
  const g = parse(global);
  if (!z || !g) return true;
  return z[1] === g[1] && Math.abs(Number(z[2]) - Number(g[2])) <= 2;
}

/** Kuma's `metrics.zone.subscriptionLimit`: the newest subscriptions kept per zone. */
const SUBSCRIPTION_LIMIT = 10;

export interface SubscriptionInfo {
  readonly id: string;
  readonly globalInstanceId: string;
  readonly zoneInstanceId: string;
  readonly agentVersion: string;
  readonly config: string;
  readonly transport: 'ws' | 'poll';
  /** What the zone said ended its previous session (empty: nothing). */
  readonly zoneLastError: string;
  /** The global revision the zone said it had applied when it connected. */
  readonly zoneRevision: number;
}

/**
 * The zone's own view of its KDS state, kept in its subscription as `zoneState` (an Ursa addition to Kuma's
 * KDSSubscription): the global revision it has applied and the last error it reported. The global's view
 * (connected or not) is the lease; this tells an operator how far behind a connected zone is and why its
 * last session ended, without logging into the zone.
 */
export interface ZoneState {
  readonly appliedRevision: number;
  readonly lastError: string;
}

export interface Counters {
  sent: number;
  acked: number;
  rejected: number;
  byKind: Map<string, { sent: number; acked: number; rejected: number }>;
}

export const newCounters = (): Counters => ({ sent: 0, acked: 0, rejected: 0, byKind: new Map() });

type Subscription = Record<string, unknown> & { id?: string; connectTime?: string; disconnectTime?: string };

/**
 * The subscription a session writes to: the newest with its id. Ids repeat: a long-poll zone's session id
 * is `poll-<zone instance>` for as long as its agent runs, and each time its lease runs out between two
 * requests (a slow moment, a network blip) the next request appends a new subscription with the same id
 * and closes the older ones. The first match would be a closed one, and the zone's state would never be
 * stored again.
 */
const current = (subs: Subscription[], id: string): Subscription | undefined => subs.findLast((x) => x.id === id);

/** Creates the Zone (enabled) if it does not exist; returns whether it is enabled. */
export async function ensureZone(store: ResourceStore, tenant: string, zone: string): Promise<boolean> {
  const [r] = await store.apply(tenant, [{ op: 'create', ifAbsent: true, resource: { kind: 'Zone', name: zone, spec: { enabled: true } } }]);
  const spec = r && 'resource' in r ? r.resource.spec : {};
  return spec.enabled !== false;
}

/** Appends a subscription, closing any the previous session left open (Kuma's `finalizeSubscriptions`). */
export async function recordConnect(store: ResourceStore, tenant: string, zone: string, s: SubscriptionInfo, now = new Date()): Promise<void> {
  await updateInsight(store, tenant, zone, connectChange(s, now));
}

const connectChange = (s: SubscriptionInfo, now: Date) => (subs: Subscription[]): Subscription[] => {
    for (const old of subs) if (old.connectTime && !old.disconnectTime) old.disconnectTime = now.toISOString();
    subs.push({
      id: s.id,
      globalInstanceId: s.globalInstanceId,
      zoneInstanceId: s.zoneInstanceId,
      connectTime: now.toISOString(),
      status: { lastUpdateTime: now.toISOString(), total: { responsesSent: '0', responsesAcknowledged: '0', responsesRejected: '0' }, stat: {} },
      // The GUI warns on a zone whose `kumaCpGlobalCompatible` is false (Kuma: same major, minor within 2).
      version: { kumaCp: { version: s.agentVersion, kumaCpGlobalCompatible: versionsCompatible(s.agentVersion, VERSION) } },
      config: s.config,
      authTokenProvided: true,
      zoneState: zoneStateOf({ appliedRevision: s.zoneRevision, lastError: s.zoneLastError }, now),
    });
    return subs.slice(-SUBSCRIPTION_LIMIT);
  };

/** Closes the session's subscription and stores its counters (and the zone's last reported state). */
export async function recordDisconnect(store: ResourceStore, tenant: string, zone: string, id: string, counters: Counters, state?: ZoneState, now = new Date()): Promise<void> {
  await updateInsight(store, tenant, zone, disconnectChange(id, counters, state, now));
}

const disconnectChange = (id: string, counters: Counters, state: ZoneState | undefined, now: Date) => (subs: Subscription[]): Subscription[] => {
  const sub = current(subs, id);
  if (!sub) return subs;
  sub.disconnectTime = now.toISOString();
  sub.status = statusOf(counters, now);
  if (state) sub.zoneState = zoneStateOf(state, now);
  return subs;
};

/**
 * Stores a live session's zone state (and counters, when the caller has them): the periodic flush, like
 * Kuma's insight flush. Skipped when the stored state is the same, or younger than `minAgeMs`, so stateless
 * long-poll requests, which all call this, write at most once per interval.
 */
export async function recordProgress(
  store: ResourceStore,
  tenant: string,
  zone: string,
  id: string,
  state: ZoneState,
  opts: { counters?: Counters; minAgeMs?: number; now?: Date } = {},
): Promise<void> {
  await updateInsight(store, tenant, zone, progressChange(id, state, opts));
}

const progressChange = (id: string, state: ZoneState, opts: { counters?: Counters; minAgeMs?: number; now?: Date }) => (subs: Subscription[]): Subscription[] | undefined => {
    const now = opts.now ?? new Date();
    const sub = current(subs, id);
    if (!sub || sub.disconnectTime) return undefined;
    const prev = sub.zoneState as { appliedRevision?: string; lastError?: string; reportedTime?: string } | undefined;
    const same = prev?.appliedRevision === String(state.appliedRevision) && (prev?.lastError ?? '') === state.lastError;
    const age = now.getTime() - Date.parse(prev?.reportedTime ?? '1970-01-01T00:00:00Z');
    if (same || age < (opts.minAgeMs ?? 0)) return undefined;
    if (opts.counters) sub.status = statusOf(opts.counters, now);
    sub.zoneState = zoneStateOf(state, now);
    return subs;
  };

function zoneStateOf(s: ZoneState, now: Date) {
  return { appliedRevision: String(s.appliedRevision), ...(s.lastError ? { lastError: s.lastError } : {}), reportedTime: now.toISOString() };
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

/** `change` returns the new list, or undefined to write nothing. */
async function updateInsight(store: ResourceStore, tenant: string, zone: string, change: (subs: Subscription[]) => Subscription[] | undefined): Promise<void> {
  // Read-modify-write with the version as expected version; a concurrent writer (another replica) wins and
  // we retry on top of it.
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await store.get(tenant, { kind: 'ZoneInsight', name: zone });
    const subs = structuredClone(((current?.spec.subscriptions as Subscription[] | undefined) ?? []) as Subscription[]);
    const next = change(subs);
    if (!next) return;
    const spec = { ...(current?.spec ?? {}), subscriptions: next };
    try {
      if (current) await store.update(tenant, { kind: 'ZoneInsight', name: zone, labels: current.labels, spec }, { expectedVersion: current.version });
      else await store.create(tenant, { kind: 'ZoneInsight', name: zone, spec });
      return;
    } catch (err) {
      if (!(err instanceof Error && (err.name === 'ConflictError' || err.name === 'AlreadyExistsError'))) throw err;
    }
  }
}

// --- hellos in waves ---------------------------------------------------------------------------------
//
// Profile of bench/kds-fanout.ts (1,000 zones connecting): the global was half idle while each hello waited
// for its own Zone create and ZoneInsight write, each a transaction under the tenant's lock. Concurrent
// hellos of a tenant now share one transaction for each; should a shared write fail (a conflict with
// another replica), every hello of it falls back to its own write, so errors stay with their zone.

type Change = (subs: Subscription[]) => Subscription[] | undefined;
type Waves = { zones: Coalescer<string, boolean>; insights: Coalescer<{ zone: string; change: Change }, void> };
const waves = new WeakMap<ResourceStore, Map<string, Waves>>();

function wavesOf(store: ResourceStore, tenant: string): Waves {
  let byTenant = waves.get(store);
  if (!byTenant) waves.set(store, (byTenant = new Map()));
  let w = byTenant.get(tenant);
  if (!w) {
    w = {
      zones: new Coalescer((zones) => ensureZonesNow(store, tenant, zones)),
      insights: new Coalescer((items) => updateInsightsNow(store, tenant, items)),
    };
    byTenant.set(tenant, w);
  }
  return w;
}

/** `ensureZone`, shared with the hellos of the same tenant arriving meanwhile. */
export function ensureZoneInWave(store: ResourceStore, tenant: string, zone: string): Promise<boolean> {
  return wavesOf(store, tenant).zones.run(zone);
}

/** `recordConnect`, shared with the hellos of the same tenant arriving meanwhile. */
export function recordConnectInWave(store: ResourceStore, tenant: string, zone: string, s: SubscriptionInfo): Promise<void> {
  return wavesOf(store, tenant).insights.run({ zone, change: connectChange(s, new Date()) });
}

/**
 * `recordProgress` of a live WebSocket session, shared with the other sessions of the tenant flushing
 * meanwhile: one write of N rows instead of N round trips. (ZoneInsight is a status kind: its writes take no
 * tenant lock and move no revision, so a session flushes only when its zone's applied revision changed.)
 */
export function recordProgressInWave(store: ResourceStore, tenant: string, zone: string, id: string, state: ZoneState, opts: { counters?: Counters; minAgeMs?: number } = {}): Promise<void> {
  return wavesOf(store, tenant).insights.run({ zone, change: progressChange(id, state, opts) });
}

/**
 * `recordDisconnect`, shared with the other sessions of the tenant closing meanwhile. A 10,000-zone run saw
 * thousands of sessions close at once (zones that gave up, a global shutting down): one transaction each took
 * every pool connection (pg_stat_activity: all of them in ZoneInsight writes), so the lease keeper could not
 * renew the live sessions' leases in time and those zones went Offline too.
 */
export function recordDisconnectInWave(store: ResourceStore, tenant: string, zone: string, id: string, counters: Counters, state?: ZoneState): Promise<void> {
  return wavesOf(store, tenant).insights.run({ zone, change: disconnectChange(id, counters, state, new Date()) });
}

async function ensureZonesNow(store: ResourceStore, tenant: string, zones: string[]): Promise<boolean[]> {
  if (zones.length === 1) return [await ensureZone(store, tenant, zones[0]!)];
  const names = [...new Set(zones)];
  try {
    const results = await store.apply(tenant, names.map((name): WriteOp => ({ op: 'create', ifAbsent: true, resource: { kind: 'Zone', name, spec: { enabled: true } } })));
    const enabled = new Map(names.map((n, i) => { const r = results[i]; return [n, (r && 'resource' in r ? r.resource.spec : {}).enabled !== false]; }));
    return zones.map((z) => enabled.get(z)!);
  } catch {
    return Promise.all(zones.map((z) => ensureZone(store, tenant, z)));
  }
}

async function updateInsightsNow(store: ResourceStore, tenant: string, items: { zone: string; change: Change }[]): Promise<void[]> {
  const one = (i: { zone: string; change: Change }) => updateInsight(store, tenant, i.zone, i.change);
  if (items.length === 1) {
    await one(items[0]!);
    return [undefined];
  }
  try {
    const zones = [...new Set(items.map((i) => i.zone))];
    const current = await store.getMany(tenant, 'ZoneInsight', zones.map((name) => ({ mesh: '', name })));
    // The same zone twice in one wave (its hello and a flush, a quick reconnect): its changes apply in order,
    // to one write. (Before, such a wave fell back to one write per zone: profile of the global at 10,000
    // zones, `updateInsight` on its own was most of the insight-writing time.)
    const next = new Map<string, Subscription[]>();
    for (const i of items) {
      const base = next.get(i.zone) ?? structuredClone(((current.get(`/${i.zone}`)?.spec.subscriptions as Subscription[] | undefined) ?? []) as Subscription[]);
      const subs = i.change(base);
      if (subs) next.set(i.zone, subs);
    }
    const ops: WriteOp[] = [];
    for (const [zone, subs] of next) {
      const cur = current.get(`/${zone}`);
      const spec = { ...(cur?.spec ?? {}), subscriptions: subs };
      ops.push(
        cur
          ? { op: 'update', resource: { kind: 'ZoneInsight', name: zone, labels: cur.labels, spec }, expectedVersion: cur.version }
          : { op: 'create', resource: { kind: 'ZoneInsight', name: zone, spec } },
      );
    }
    await store.apply(tenant, ops);
  } catch (err) {
    if (!(err instanceof Error && (err.name === 'ConflictError' || err.name === 'AlreadyExistsError'))) throw err;
    // Another writer (a replica, a closing session) got in between: each change on its own, in order per zone.
    const byZone = new Map<string, typeof items>();
    for (const i of items) byZone.set(i.zone, [...(byZone.get(i.zone) ?? []), i]);
    await Promise.all([...byZone.values()].map(async (list) => { for (const i of list) await one(i); }));
  }
  return items.map(() => undefined);
}
