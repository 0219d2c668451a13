/**
 * DataplaneInsight (ZoneIngressInsight for a zone ingress: the insight type is the descriptor whose
 * `insightOf` is the proxy's kind): each xDS stream of a proxy is one Kuma `DiscoverySubscription` in its
 * insight (same mesh and name, `kuma-multizone.md` §3.7, §3.8): its id, this agent's instance id,
 * connect and disconnect times, and per type (`cds`, `eds`, `lds`, `rds`, and `total`) the responses sent,
 * acknowledged and rejected. A subscription without `disconnectTime` is what makes the proxy Online (Kuma's
 * `IsOnline`, `insight-queries.ts`), on the zone and, because DataplaneInsight is `zone-to-global`, on the
 * global after the KDS client pushes it.
 *
 * Writes are batched, never one per ACK: a connect or disconnect is written within `urgentMs` (Online
 * should change at once), counters at most every `flushMs` (Kuma's 10 s dataplane status flush); a flush
 * writes every changed insight, `WRITE_BATCH` per transaction with a yield between them, because the embedded
 * database runs on the agent's only thread: one 2,000-row transaction held up every xDS push behind it, and
 * even 100-row batches put a change that met a flush at 0.4 s instead of 0.15 s (bench/xds.ts).
 * Connecting never waits on the database: the insight's earlier subscriptions are read in the background,
 * in one query per batch of connects, before the proxy's first write. When the agent starts, subscriptions a
 * previous run left open are closed (`closeStale`): no stream survives a restart of the agent, which is
 * the zone's only xDS server.
 */
import { randomUUID } from 'node:crypto';
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { descriptorFor, RESOURCES } from '@ursa/proto';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL } from '@ursa/proto/xds';
import { asTyped, type Logger, type Resource, type ResourceStore, stampZone, type WriteOp } from '@ursa/core';
import { readLocalKinds } from '../rebuild-loop.js';
import type { ProxyId } from './admission.js';
import type { Variant } from './stream.js';

/** Insights per transaction when flushing (small: each one holds the agent's thread and database). */
const WRITE_BATCH = 20;

/** Proxy kind (`Dataplane`, `ZoneIngress`) -> its insight kind, from the descriptor table. */
const INSIGHT_OF: ReadonlyMap<string, string> = new Map(RESOURCES.flatMap((d) => (d.insightOf ? [[d.insightOf, d.kind] as const] : [])));
/** The proxies this recorder keeps insights of. */
const PROXY_KINDS = ['Dataplane', 'ZoneIngress', 'ZoneEgress'] as const;
export type InsightProxy = ProxyId & { readonly resourceKind: (typeof PROXY_KINDS)[number] };
/** Kuma keeps this many subscriptions per insight (`KUMA_METRICS_DATAPLANE_SUBSCRIPTION_LIMIT`). */
const SUBSCRIPTION_LIMIT = 2;
/** Kuma's per-type status keys. */
const TYPE_KEY: Readonly<Record<string, string>> = {
  [CLUSTER_TYPE_URL]: 'cds',
  [CLUSTER_LOAD_ASSIGNMENT_TYPE_URL]: 'eds',
  [LISTENER_TYPE_URL]: 'lds',
  [ROUTE_CONFIGURATION_TYPE_URL]: 'rds',
};

interface Counters {
  responsesSent: number;
  responsesAcknowledged: number;
  responsesRejected: number;
}

/** A subscription as stored (Kuma's JSON: uint64 counters are strings). */
type SubscriptionJson = Record<string, unknown> & { id?: string; connectTime?: string; disconnectTime?: string };

interface Live {
  readonly key: string;
  readonly id: string;
  readonly connectTime: string;
  disconnectTime: string | undefined;
  /** Epoch ms (formatted when written: counting runs once per response and ACK, writing rarely). */
  lastUpdateTime: number;
  readonly counters: Map<string, Counters>;
  readonly version: Record<string, unknown> | undefined;
}

interface Proxy extends ProxyId {
  readonly insightKind: string;
  /** Subscriptions of earlier streams (from the store), oldest first; undefined until read. */
  history: SubscriptionJson[] | undefined;
  /** This process's streams of the proxy, oldest first. */
  readonly live: Live[];
}

export interface InsightOptions {
  readonly store: Pick<ResourceStore, 'getMany' | 'apply' | 'snapshotPage'>;
  readonly tenant: string;
  readonly zone: string;
  /** `controlPlaneInstanceId` of every subscription. */
  readonly instanceId: string;
  readonly log: Logger;
  /** Counter changes are written at most this often (default 10 s, Kuma's). */
  readonly flushMs?: number;
  /** Connects and disconnects are written this soon (default 100 ms). */
  readonly urgentMs?: number;
  /** Awaited before each write batch: lets a due xDS rebuild have the thread and the database first. */
  readonly yieldTo?: () => Promise<void>;
  /** Kuma's DataplaneInsight `mTLS` block for a Dataplane, when it holds a workload certificate. */
  readonly mtlsOf?: (mesh: string, name: string) => Record<string, unknown> | undefined;
}

export class InsightRecorder {
  private readonly proxies = new Map<string, Proxy>();
  private readonly streams = new Map<string, Live>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  /** Proxies whose stored insight is still to be read. */
  private readonly toLoad = new Map<string, Proxy>();
  private loading: Promise<void> | undefined;

  constructor(private readonly opts: InsightOptions) {}

  /** Closes every subscription a previous run of the agent left open; returns how many insights changed. */
  async closeStale(now = new Date()): Promise<number> {
    const kinds = PROXY_KINDS.map((k) => INSIGHT_OF.get(k)!);
    const all = [...(await readLocalKinds(this.opts.store as ResourceStore, kinds)).values()].flat();
    const ops: WriteOp[] = [];
    for (const r of all) {
      const subs = subscriptionsOf(r);
      if (!subs.some((s) => s.connectTime && !s.disconnectTime)) continue;
      const closed = subs.map((s) => (s.connectTime && !s.disconnectTime ? { ...s, disconnectTime: now.toISOString() } : s));
      ops.push({ op: 'upsert', resource: this.draft(r.kind, r.mesh, r.name, { ...r.spec, subscriptions: closed }) });
    }
    for (let i = 0; i < ops.length; i += 500) await this.opts.store.apply(this.opts.tenant, ops.slice(i, i + 500));
    if (ops.length > 0) this.opts.log.info(`marked ${ops.length} dataplane insight(s) offline (left open by a previous run)`);
    return ops.length;
  }

  /** A stream of `proxy` was admitted. */
  connected(proxy: InsightProxy, streamId: string, node: Node | undefined, _variant: Variant): void {
    const key = keyOf(proxy);
    let p = this.proxies.get(key);
    if (!p) {
      p = { mesh: proxy.mesh, name: proxy.name, insightKind: INSIGHT_OF.get(proxy.resourceKind)!, history: undefined, live: [] };
      this.proxies.set(key, p);
      this.load(key, p);
    }
    const now = new Date().toISOString();
    const live: Live = { key, id: randomUUID(), connectTime: now, disconnectTime: undefined, lastUpdateTime: Date.now(), counters: new Map(), version: versionOf(node) };
    p.live.push(live);
    this.streams.set(streamId, live);
    this.touch(key, true);
  }

  /** The stream ended: its subscription gets its disconnect time. */
  disconnected(streamId: string): void {
    const live = this.streams.get(streamId);
    if (!live) return;
    this.streams.delete(streamId);
    live.disconnectTime = new Date().toISOString();
    this.touch(live.key, true);
  }

  response(streamId: string, typeUrl: string): void {
    this.count(streamId, typeUrl, 'responsesSent');
  }

  ack(streamId: string, typeUrl: string): void {
    this.count(streamId, typeUrl, 'responsesAcknowledged');
  }

  nack(streamId: string, typeUrl: string): void {
    this.count(streamId, typeUrl, 'responsesRejected');
  }

  /** Writes everything pending now (and waits for a write in progress). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
    while (this.loading) await this.loading;
    while (this.flushing) await this.flushing;
    if (this.dirty.size === 0) return;
    this.flushing = this.write().finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  /** Writes what is pending (open streams are expected to have been closed first) and stops the timers. */
  async stop(): Promise<void> {
    await this.flush().catch((err: unknown) => this.opts.log.warn(`writing dataplane insights failed on stop: ${err instanceof Error ? err.message : err}`));
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The insight spec this recorder would write for a proxy now (tests, inspect). */
  specOf(proxy: InsightProxy): { subscriptions: SubscriptionJson[] } | undefined {
    const p = this.proxies.get(keyOf(proxy));
    return p && { subscriptions: this.subscriptions(p) };
  }

  private count(streamId: string, typeUrl: string, field: keyof Counters): void {
    const live = this.streams.get(streamId);
    if (!live) return;
    for (const k of ['total', TYPE_KEY[typeUrl]]) {
      if (!k) continue;
      let c = live.counters.get(k);
      if (!c) live.counters.set(k, (c = { responsesSent: 0, responsesAcknowledged: 0, responsesRejected: 0 }));
      c[field]++;
    }
    live.lastUpdateTime = Date.now();
    this.touch(live.key, false);
  }

  private touch(key: string, urgent: boolean): void {
    this.dirty.add(key);
    if (this.stopped) return;
    const ms = urgent ? (this.opts.urgentMs ?? 100) : (this.opts.flushMs ?? 10_000);
    const due = Date.now() + ms;
    if (due >= this.timerDue) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      void this.flush().catch((err: unknown) => {
        // Keep them dirty and try again later: an insight is worth retrying, never worth crashing for.
        this.opts.log.warn(`writing dataplane insights failed (retrying): ${err instanceof Error ? err.message : err}`);
        this.touch([...this.dirty][0] ?? key, false);
      });
    }, ms);
    this.timer.unref();
  }

  /** Reads stored insights of new proxies, in one query per kind for every proxy queued meanwhile. */
  private load(key: string, p: Proxy): void {
    this.toLoad.set(key, p);
    if (this.loading) return;
    this.loading = (async () => {
      await new Promise((r) => setImmediate(r));
      while (this.toLoad.size > 0) {
        const batch = [...this.toLoad].slice(0, 500);
        for (const [k] of batch) this.toLoad.delete(k);
        for (const kind of new Set(batch.map(([, x]) => x.insightKind))) {
          const mine = batch.filter(([, x]) => x.insightKind === kind);
          // History is nice to have: a failed read must cost the proxy nothing else.
          const found = await this.opts.store.getMany(this.opts.tenant, kind, mine.map(([, x]) => ({ mesh: x.mesh, name: x.name }))).catch(() => new Map<string, Resource>());
          for (const [k, x] of mine) {
            const existing = found.get(`${x.mesh}/${x.name}`);
            x.history = existing ? subscriptionsOf(existing) : [];
            this.touch(k, true);
          }
        }
      }
      this.loading = undefined;
    })();
  }

  private async write(): Promise<void> {
    const keys = [...this.dirty].filter((k) => this.proxies.get(k)?.history !== undefined);
    for (const k of keys) this.dirty.delete(k);
    const ops: WriteOp[] = [];
    for (const key of keys) {
      const p = this.proxies.get(key);
      if (!p) continue;
      const mtls = p.insightKind === 'DataplaneInsight' ? this.opts.mtlsOf?.(p.mesh, p.name) : undefined;
      ops.push({ op: 'upsert', resource: this.draft(p.insightKind, p.mesh, p.name, { subscriptions: this.subscriptions(p), ...(mtls ? { mTLS: mtls } : {}) }) });
    }
    try {
      for (let i = 0; i < ops.length; i += WRITE_BATCH) {
        // A macrotask between batches: a due xDS rebuild (a timer) gets the thread and the database before the
        // next batch, so a flush delays a push by one small batch, not by the whole flush.
        if (i > 0) await new Promise((r) => setTimeout(r, 0));
        await this.opts.yieldTo?.();
        await this.opts.store.apply(this.opts.tenant, ops.slice(i, i + WRITE_BATCH));
      }
    } catch (err) {
      for (const k of keys) this.dirty.add(k);
      throw err;
    }
    // A proxy with no stream left has been written offline: forget it (the store has its history).
    for (const key of keys) {
      const p = this.proxies.get(key);
      if (p && !this.dirty.has(key) && p.live.every((l) => l.disconnectTime !== undefined)) this.proxies.delete(key);
    }
  }

  private subscriptions(p: Proxy): SubscriptionJson[] {
    const live = p.live.map((l) => subscriptionJson(l, this.opts.instanceId));
    // Open subscriptions always stay; closed ones fill up to the limit, newest kept.
    const closed = [...(p.history ?? []), ...live.filter((s) => s.disconnectTime)];
    const open = live.filter((s) => !s.disconnectTime);
    const room = Math.max(0, SUBSCRIPTION_LIMIT - open.length);
    return [...closed.slice(Math.max(0, closed.length - room)), ...open];
  }

  private draft(kind: string, mesh: string, name: string, spec: Record<string, unknown>) {
    return stampZone(descriptorFor(kind)!, this.opts.zone, { kind, mesh, name, spec });
  }
}

function keyOf(p: InsightProxy): string {
  return `${p.resourceKind}/${p.mesh}/${p.name}`;
}

/** The insight kinds this recorder writes (both keep `subscriptions`). */
const INSIGHT_KINDS = ['DataplaneInsight', 'ZoneIngressInsight'] as const;

function subscriptionsOf(r: Resource): SubscriptionJson[] {
  const kind = INSIGHT_KINDS.find((k) => k === r.kind);
  return kind ? (asTyped(kind, r).spec.subscriptions ?? []) : [];
}

function subscriptionJson(l: Live, instanceId: string): SubscriptionJson {
  const stats = (k: string) => {
    const c = l.counters.get(k) ?? { responsesSent: 0, responsesAcknowledged: 0, responsesRejected: 0 };
    return { responsesSent: String(c.responsesSent), responsesAcknowledged: String(c.responsesAcknowledged), responsesRejected: String(c.responsesRejected) };
  };
  return {
    id: l.id,
    controlPlaneInstanceId: instanceId,
    connectTime: l.connectTime,
    ...(l.disconnectTime ? { disconnectTime: l.disconnectTime } : {}),
    status: { lastUpdateTime: new Date(l.lastUpdateTime).toISOString(), total: stats('total'), cds: stats('cds'), eds: stats('eds'), lds: stats('lds'), rds: stats('rds') },
    ...(l.version ? { version: l.version } : {}),
  };
}

/** What the node says it runs: Envoy's build version, or another client's user agent (gRPC). */
function versionOf(node: Node | undefined): Record<string, unknown> | undefined {
  if (!node?.userAgentName) return undefined;
  const uav = node.userAgentVersionType;
  const version =
    uav?.$case === 'userAgentVersion'
      ? uav.value
      : uav?.$case === 'userAgentBuildVersion' && uav.value.version
        ? `${uav.value.version.majorNumber}.${uav.value.version.minorNumber}.${uav.value.version.patch}`
        : '';
  if (node.userAgentName === 'envoy') return { envoy: { version } };
  return { dependencies: { [node.userAgentName]: version || 'unknown' } };
}
