/**
 * Which KDS hub (Durable Object) serves a zone, and ringing all hubs of a tenant.
 *
 * One hub per tenant is the default. A Durable Object is one thread with documented ceilings (about 1,000
 * requests or WebSocket messages a second, 128 MB, 32,768 WebSockets; README "Global plane on Workers"), and
 * every zone heartbeats, so a tenant with more zones than one object can carry is spread over
 * `KDS_HUB_SHARDS` hubs: a zone's hub is picked by a hash of its name, so it lands on the same hub on every
 * reconnect (its session state is in PostgreSQL anyway; the same hub only keeps the feed cache warm).
 * Every hub reads the change feed for its own zones; a write rings every hub of its tenant.
 *
 * With one shard the hub's name is the tenant's, as before sharding existed, so turning sharding off (or
 * never on) keeps the objects a deployment already has.
 */
import { fnv1a64 } from '@ursa/core';
import type { DurableObjectNamespace } from './runtime.js';

/** The shard of a zone: FNV-1a 64 of its name, modulo the number of shards (stable across deploys). */
export function shardOf(zone: string, shards: number): number {
  return shards <= 1 ? 0 : Number(fnv1a64(zone) % BigInt(shards));
}

/** The Durable Object name of a tenant's shard. */
export function hubName(tenant: string, shard: number, shards: number): string {
  return shards <= 1 ? tenant : `${tenant}#${shard}`;
}

/** The hub's URL for a request about `tenant` (the hub checks the tenant; the shard is informative). */
export function hubUrl(path: '/stream' | '/wake', tenant: string, shard: number): string {
  return `https://kds-hub${path}?tenant=${encodeURIComponent(tenant)}&shard=${shard}`;
}

/**
 * Rings every hub of `tenant` ("the tenant changed"), except shard `skip` (a hub rings itself directly).
 * A lost ring costs one revision-watch interval in that hub, not a lost change, so failures are logged only.
 */
export function ringHubs(hubs: DurableObjectNamespace, tenant: string, shards: number, skip?: number): Promise<unknown> {
  const rings: Promise<unknown>[] = [];
  for (let shard = 0; shard < Math.max(1, shards); shard++) {
    if (shard === skip) continue;
    rings.push(
      hubs
        .get(hubs.idFromName(hubName(tenant, shard, shards)))
        .fetch(hubUrl('/wake', tenant, shard), { method: 'POST' })
        .catch((err: unknown) => console.error(`ursa: ringing KDS hub ${shard} of ${tenant} failed:`, err instanceof Error ? err.message : err)),
    );
  }
  return Promise.all(rings);
}
