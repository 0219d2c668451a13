/**
 * What a ZoneInsight shows to Kuma tooling, given the zone's KDS lease.
 *
 * Zone liveness is the lease in `zone_sessions` (`store/insight-queries.ts`, `zoneOnlineSql`): a zone is
 * connected while `lease_expires_at > now`. The ZoneInsight still records each session as a subscription,
 * but when the agent or the global replica holding the session dies nobody writes its `disconnectTime`,
 * and Kuma tooling (`kumactl inspect zones`, the GUI) calls a zone Online while any subscription is open.
 * So the zone overviews (`/zones/_overview[...]`, `/zones+insights[...]`, `http/routes/overviews.ts`) pass
 * the insight through `zoneInsightAsOfLease`: once the lease has run out, the open subscriptions are shown
 * closed, which is what makes kumactl show Offline, in Kuma's own shape (no extra field).
 *
 * The stored insight is not changed, and the plain resource read `GET /zone-insights/{name}`
 * (`http/routes/resources.ts`) stays raw: it returns what was recorded, as every resource read does.
 */
import type { ZoneSessionRow } from '../store/kds-store.js';

type Subscription = Record<string, unknown>;

/** Kuma's `IsOnline()` for one subscription: connected and not disconnected. */
const isOpen = (s: unknown): s is Subscription =>
  typeof s === 'object' && s !== null && !Array.isArray(s) && (s as Subscription).connectTime != null && (s as Subscription).disconnectTime == null;

const timeOf = (v: unknown): number | undefined => {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
};

/**
 * The ZoneInsight spec as the lease says it is, at `now`:
 * - the lease is live (`leaseExpiresAt > now`): the spec, unchanged (the same object);
 * - otherwise (expired, or no session row / no lease at all): a copy whose newest open subscription (the
 *   last open one in `subscriptions`, which the registry appends to) gets `disconnectTime` = the lease
 *   expiry (ISO). Without a lease to date it, its last known activity is used (`status.lastUpdateTime`, else
 *   its `connectTime`). Any older subscription left open (a session whose successor was never recorded
 *   closing it) is closed too, at the next subscription's `connectTime`, as the registry does on connect;
 *   otherwise kumactl would still see an open one. A `disconnectTime` is never earlier than its `connectTime`.
 *   With no open subscription the spec is returned unchanged.
 * Pure: no I/O, no clock but `now`.
 */
export function zoneInsightAsOfLease(
  spec: Record<string, unknown>,
  session: Pick<ZoneSessionRow, 'leaseExpiresAt'> | undefined,
  now: Date,
): Record<string, unknown> {
  const lease = session?.leaseExpiresAt ?? null;
  if (lease !== null && lease.getTime() > now.getTime()) return spec;
  const subs = spec.subscriptions;
  if (!Array.isArray(subs)) return spec;
  const newest = subs.findLastIndex(isOpen);
  if (newest < 0) return spec;

  const closeAt = (sub: Subscription, at: number | undefined): Subscription => {
    const connected = timeOf(sub.connectTime);
    const t = at === undefined ? connected : connected === undefined ? at : Math.max(at, connected);
    // Undatable (no parseable time at all): keep the connect time as given, so it is closed all the same.
    return { ...sub, disconnectTime: t === undefined ? sub.connectTime : new Date(t).toISOString() };
  };
  const out = subs.map((sub: unknown, i) => {
    if (!isOpen(sub)) return sub;
    if (i === newest) {
      const status = sub.status as Record<string, unknown> | undefined;
      return closeAt(sub, lease !== null ? lease.getTime() : (timeOf(status?.lastUpdateTime) ?? timeOf(sub.connectTime)));
    }
    const next = subs[i + 1] as Subscription | undefined;
    return closeAt(sub, timeOf(next?.connectTime));
  });
  return { ...spec, subscriptions: out };
}
