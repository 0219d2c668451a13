/**
 * One zone's KDS session on the global, independent of transport: the WebSocket driver (`ws.ts`) and the
 * long-poll routes (`poll.ts`) both call these methods. Everything a session needs to continue lives in the
 * database (lease, cursors) or is sent by the zone (its last applied revision), so any replica can pick a
 * zone up at any time; what a session object holds in memory is only a cache of that.
 */
import type { Delta, Hello, Rejection, Resource, ResourceKey, Welcome } from '@ursa/proto/gen/kds.js';
import { descriptorFor, type ResourceDescriptor, sentToZones } from '@ursa/proto';
import { DeltaPacker, formatBytes, isDnsLabel, MAX_STAGED_BYTES, MAX_STAGED_RESOURCES, type StagingLimits, STAGING_TTL_MS, KdsError, type KdsStore, type OwnershipRule, planBatch, type StagedRow, replaceOwnedOps, type Resource as StoredResource, type ResourceStore, toWire, toZone, upwardRule, visibleTo, type ZoneClaims, type Logger, type Metrics, type ZoneTokens, errorText, type Change } from '@ursa/core';
import { ensureZoneInWave, newCounters, recordConnectInWave, recordDisconnectInWave, recordProgress, recordProgressInWave, type Counters, type ZoneState } from './registry.js';
import type { FeedCache } from './feed-cache.js';
import type { LeaseKeeper } from './keeper.js';
import { sweepStagingNow } from './staging-sweep.js';
import { encodeBody, sharedPage, type SharedFrame, type SharedPage, withSeq } from './shared-frames.js';

/** Features this global speaks; a zone gets the intersection with what it announced. */
export const FEATURES = ['resume-v1', 'snapshot-complete', 'chunked-deltas', 'hash-suffix', 'inspect-v1'] as const;

export interface SessionDeps {
  readonly resources: ResourceStore;
  readonly kds: KdsStore;
  readonly zoneTokens: ZoneTokens;
  readonly instanceId: string;
  /** How often an idle side sends a heartbeat. */
  readonly heartbeatMs: number;
  /** A zone is Online while its lease is renewed; the lease lasts this long after each renewal. */
  readonly leaseTtlMs: number;
  /** The process's shared feed reader (one query per wake-up for all sessions of a tenant). */
  readonly feed?: FeedCache;
  /** Renews the leases and checks the tokens of all stream sessions in bulk; sessions then skip that work. */
  readonly keeper?: LeaseKeeper;
  /** How often a live session's zone state reaches its ZoneInsight at most (default `PROGRESS_FLUSH_MS`). */
  readonly progressFlushMs?: number;
  /** Where sessions opening and closing are logged (zone, transport, session id), at info. */
  readonly log?: Logger;
  /** Streams, frames sent and applied revisions, for `/metrics` (Node). */
  readonly metrics?: Metrics;
  /** What one zone may stage of an inventory snapshot (default STAGING_LIMITS; tests lower them). */
  readonly stagingLimits?: StagingLimits;
  /** After how long without a chunk a staged snapshot is dropped (default STAGING_TTL_MS). */
  readonly stagingTtlMs?: number;
}

/** Resources per snapshot page read from the store (then packed into frames by bytes: `DeltaPacker`). */
const SNAPSHOT_PAGE = 500;
/** How often a live session's zone state reaches its ZoneInsight at most (Kuma flushes insights every 10 s). */
export const PROGRESS_FLUSH_MS = 10_000;
/** Changes per feed read. */
const FEED_PAGE = 1000;

const downKinds = () => sentToZones().map((d) => d.kind);

export class ZoneSession {
  readonly counters: Counters = newCounters();
  /** Global revision the zone will be at once it applied everything sent so far. */
  cursor: number;
  /** A snapshot being sent: the revision it started at and the last key sent. */
  snapshot?: { revision: number; after?: ResourceKey };
  #downSeq = 0;
  #upSeq = 0;
  /** The last batch left changes unsent (cut by its byte budget, or a full feed page), or a snapshot just ended. */
  #more = false;
  #closed = false;
  /** What the zone reports of itself (applied revision, last error), and what of it is stored. */
  #zoneState: ZoneState = { appliedRevision: 0, lastError: '' };
  #flushed: { at: number; revision: number } = { at: Date.now(), revision: 0 };

  private constructor(
    private readonly deps: SessionDeps,
    readonly tenant: string,
    readonly zone: string,
    readonly sessionId: string,
    readonly token: string,
    readonly claims: ZoneClaims,
    readonly welcome: Welcome,
    private readonly transport: 'ws' | 'poll',
  ) {
    this.cursor = welcome.snapshot ? 0 : Number(welcome.revision);
  }

  /**
   * Authenticates a Hello and opens (WebSocket) or resumes (long-poll) the zone's session: checks the zone
   * token, creates the Zone on first connect, refuses a disabled zone, takes the lease and records the
   * subscription. Throws KdsError with the reason otherwise.
   */
  /**
   * `abandoned`: whether the zone already hung up (a WebSocket closed while its hello was being checked). It is
   * asked again just before the lease is taken, and then `undefined` is returned with no lease taken, so a zone
   * that gave up is never shown Online, not even for the moment until its caller releases the lease.
   */
  static async attach(deps: SessionDeps, hello: Hello, transport: 'ws' | 'poll', sessionId: string): Promise<ZoneSession>;
  static async attach(deps: SessionDeps, hello: Hello, transport: 'ws' | 'poll', sessionId: string, abandoned: () => boolean): Promise<ZoneSession | undefined>;
  static async attach(deps: SessionDeps, hello: Hello, transport: 'ws' | 'poll', sessionId: string, abandoned?: () => boolean): Promise<ZoneSession | undefined> {
    if (!isDnsLabel(hello.zone)) throw new KdsError('bad-frame', `hello.zone ${JSON.stringify(hello.zone)} is not a valid zone name (a lowercase DNS label)`);
    if (hello.token === '') throw new KdsError('unauthenticated', 'hello.token is empty: the global requires a zone token (POST /tokens/zone)');
    // A zone that gave up waiting for its Welcome (a burst of hellos after a deploy) has hung up: do none of
    // the work for it, or the burst's abandoned hellos keep the next ones waiting past their deadline too.
    if (abandoned?.()) return undefined;
    const check = await deps.zoneTokens.verify(hello.token, { zone: hello.zone, tenant: hello.tenant });
    if (!check.ok) throw new KdsError(check.code, check.message);
    if (abandoned?.()) return undefined;
    const tenant = check.claims.tenant;
    // A zone the feed's map shows enabled exists: no write (a stale map errs towards the write, or the
    // session's first tick ends a zone disabled meanwhile).
    const known = deps.feed && (await deps.feed.zones(tenant)).get(hello.zone) === true;
    if (!known && !(await ensureZoneInWave(deps.resources, tenant, hello.zone))) {
      throw new KdsError('zone-disabled', `zone ${hello.zone} is disabled on the global (enabled: false)`);
    }

    // Abandoned inventory uploads (any zone's) go here, at most once a minute per process.
    await sweepStagingNow(deps.kds, deps.stagingTtlMs ?? STAGING_TTL_MS);
    if (abandoned?.()) return undefined;
    // Only a long poll can resume; a WebSocket hello always opens a session (one round trip fewer).
    const existing = transport === 'poll' ? await deps.kds.session(tenant, hello.zone) : undefined;
    const resuming = transport === 'poll' && existing?.sessionId === sessionId && (existing.leaseExpiresAt?.getTime() ?? 0) > Date.now();
    let sessionRow = existing;
    if (resuming) {
      await deps.kds.renew(tenant, hello.zone, sessionId, deps.leaseTtlMs);
    } else {
      sessionRow = await deps.kds.openSession(tenant, hello.zone, { sessionId, globalInstanceId: deps.instanceId, ttlMs: deps.leaseTtlMs });
      if (transport === 'ws') deps.metrics?.kdsStream(transport, 1);
      deps.log?.info('zone session opened', { zone: hello.zone, tenant, transport, session: sessionId, zoneInstance: hello.instanceId, zoneRevision: hello.lastRevision });
      await recordConnectInWave(deps.resources, tenant, hello.zone, {
        id: sessionId,
        globalInstanceId: deps.instanceId,
        zoneInstanceId: hello.instanceId,
        agentVersion: hello.agentVersion,
        config: hello.configJson,
        transport,
        zoneRevision: hello.lastRevision,
        zoneLastError: hello.lastError,
      });
    }

    const revision = await deps.resources.currentRevision(tenant);
    // Resume needs a revision we can serve incrementally; the store tells us when we cannot.
    let snapshot = hello.lastRevision === 0;
    if (!snapshot) snapshot = (await deps.resources.changesSince(tenant, hello.lastRevision, { limit: 1, kinds: [] })).resyncRequired;
    let inventoryRevision = sessionRow?.inventoryRevision ?? 0;
    // A zone that has less than the global applied lost its state (wiped data dir): ask for a full inventory.
    if (inventoryRevision > hello.inventoryRevision) inventoryRevision = 0;
    const welcome: Welcome = {
      globalInstanceId: deps.instanceId,
      features: FEATURES.filter((f) => hello.features.includes(f)),
      revision,
      snapshot,
      heartbeatIntervalMs: deps.heartbeatMs,
      inventoryRevision,
      sessionId,
    };
    const s = new ZoneSession(deps, tenant, hello.zone, sessionId, hello.token, check.claims, welcome, transport);
    s.cursor = snapshot ? 0 : hello.lastRevision;
    if (snapshot) s.snapshot = { revision };
    s.#zoneState = { appliedRevision: hello.lastRevision, lastError: hello.lastError };
    s.#flushed = { at: Date.now(), revision: hello.lastRevision };
    deps.metrics?.zoneApplied(tenant, hello.zone, hello.lastRevision);
    // Long-poll sessions live one request each: their hello is the zone's report, stored at most every flush interval.
    if (resuming) await recordProgress(deps.resources, tenant, hello.zone, sessionId, s.#zoneState, { minAgeMs: deps.progressFlushMs ?? PROGRESS_FLUSH_MS });
    return s;
  }

  /**
   * Kinds whose changes wake this session: what it sends. Zone changes do not: enabling or disabling a zone
   * rewrites its ingresses (which wakes everyone who may see them), and a session notices its own zone being
   * disabled or deleted on its next tick. So 1,000 zones connecting do not wake each other.
   */
  static interest(): Set<string> {
    return new Set(downKinds());
  }

  // --- downstream: global -> zone ------------------------------------------------------------------

  /**
   * Whether the next `nextFrames` may have something without a new change: a snapshot in progress or just
   * ended, or a batch that stopped before the end of the feed. Otherwise only a wake-up brings frames.
   */
  get more(): boolean {
    return this.snapshot !== undefined || this.#more;
  }

  /**
   * The next frames to send, or [] when the zone is up to date. Snapshot pages first (all frames carry the
   * snapshot revision, the last one `complete`), then changes from the feed, each frame ending at a change
   * boundary so it is self-contained.
   */
  async nextFrames(): Promise<Delta[]> {
    if (this.snapshot) return this.#snapshotFrames();
    const page = this.deps.feed
      ? await this.deps.feed.changesSince(this.tenant, this.cursor, FEED_PAGE)
      : await this.deps.resources.changesSince(this.tenant, this.cursor, { limit: FEED_PAGE, kinds: [...ZoneSession.interest()] });
    if (page.resyncRequired) {
      this.snapshot = { revision: await this.deps.resources.currentRevision(this.tenant) };
      return this.#snapshotFrames();
    }
    await this.#checkOwnZone(page.changes.some((c) => (c.op === 'upsert' ? c.resource.kind : c.key.kind) === 'Zone'));
    const enabled = await this.#zoneEnabledMap();
    const isEnabled = (z: string) => enabled.get(z) ?? true;
    // What this zone gets of each change: the upsert ('u'), a removal ('r': deleted, or no longer visible
    // because its zone was disabled; a no-op if it never had it), or nothing ('-': not a KDS kind). Sessions
    // at the same cursor deciding the same share one packing and encoding of the page (`shared-frames.ts`).
    let decisions = '';
    let key = String(this.cursor);
    for (const change of page.changes) {
      const kind = change.op === 'upsert' ? change.resource.kind : change.key.kind;
      const desc = descriptorFor(kind)!;
      const d = desc.kds === 'none' ? '-' : change.op === 'upsert' && visibleTo(desc, change.resource, this.zone, isEnabled) ? 'u' : 'r';
      decisions += d;
      key += `,${change.revision}${d}`;
    }
    this.#more = page.more;
    if (page.changes.length === 0) {
      this.cursor = page.revision;
      return [];
    }
    const cursor = this.cursor;
    const shared = sharedPage(page.changes[0]!, key, () => packChanges(page.changes, decisions, cursor));
    for (const [kind, n] of shared.sentByKind) this.#count(kind, 'sent', n);
    const frames = shared.frames.map((f) => this.#sharedDelta(f));
    // Changes that concerned nobody here still move the cursor (heartbeats tell the zone); a batch cut short
    // continues after its last change.
    this.cursor = shared.cut ? shared.consumed : page.revision;
    this.#more ||= shared.cut;
    return frames;
  }

  /**
   * The next snapshot frames: from where the snapshot stands, packed by bytes up to one batch. Every frame
   * names the last key it covers (`snapshot_after`), so a zone that received only some of them (a long-poll
   * answer, a dropped connection) resumes right after the last one it applied.
   */
  async #snapshotFrames(): Promise<Delta[]> {
    const snap = this.snapshot!;
    const enabled = await this.#zoneEnabledMap();
    const { resources: rows } = await this.deps.resources.snapshotPage(this.tenant, { kinds: downKinds(), after: snap.after, limit: SNAPSHOT_PAGE });
    const packer = new DeltaPacker<ResourceKey | undefined>();
    let position = snap.after;
    let consumed = 0;
    for (const r of rows) {
      consumed += 1;
      position = { kind: r.kind, mesh: r.mesh, name: r.name };
      const desc = descriptorFor(r.kind)!;
      if (!visibleTo(desc, r, this.zone, (z) => enabled.get(z) ?? true)) continue;
      packer.upsert(toWire(toZone(r)));
      this.#count(r.kind, 'sent');
      if (packer.frameFull || packer.batchFull) {
        packer.close(position);
        if (packer.batchFull) break;
      }
    }
    packer.close(position);
    snap.after = position;
    const last = consumed === rows.length && rows.length < SNAPSHOT_PAGE;
    const frames = packer.frames.map((f, i, all) =>
      this.#delta({ upserts: f.upserts, removals: [], revision: snap.revision, baseRevision: 0, snapshot: true, complete: last && i === all.length - 1, snapshotAfter: f.meta }),
    );
    // Nothing visible on this page: one empty frame still tells the zone where the snapshot stands (or that it is complete).
    if (frames.length === 0) frames.push(this.#delta({ upserts: [], removals: [], revision: snap.revision, baseRevision: 0, snapshot: true, complete: last, snapshotAfter: position }));
    if (last) {
      this.cursor = snap.revision;
      this.snapshot = undefined;
      // Changes written while the snapshot was read are in the feed after its revision: read it once more.
      this.#more = true;
    }
    return frames;
  }

  #sharedDelta(f: SharedFrame): Delta {
    this.deps.metrics?.kdsResponseSent(this.tenant, this.zone);
    this.#downSeq += 1;
    this.counters.sent += 1;
    return withSeq(f, this.#downSeq);
  }

  #delta(d: Omit<Delta, 'seq'>): Delta {
    this.deps.metrics?.kdsResponseSent(this.tenant, this.zone);
    this.#downSeq += 1;
    this.counters.sent += 1;
    return { seq: this.#downSeq, ...d };
  }

  /** The zone acknowledged frames up to `ack.seq`; rejections are recorded (the rest applied). */
  async acknowledged(ack: { seq: number; revision: number; rejections: Rejection[] }): Promise<void> {
    if (ack.seq > this.#downSeq) throw new KdsError('out-of-order', `ack for frame ${ack.seq}, but only ${this.#downSeq} were sent`);
    this.counters.acked += 1;
    this.zoneReported(ack.revision);
    for (const r of ack.rejections) {
      this.counters.rejected += 1;
      this.#count(r.key?.kind ?? '', 'rejected');
    }
  }

  /** The zone said it has applied up to `revision` (an ack or a heartbeat). */
  zoneReported(revision: number): void {
    if (revision > this.#zoneState.appliedRevision) this.#zoneState = { ...this.#zoneState, appliedRevision: revision };
    this.deps.metrics?.zoneApplied(this.tenant, this.zone, this.#zoneState.appliedRevision);
  }

  /**
   * Stores the zone's state in its subscription when it moved and the last flush is old enough. Not awaited
   * by the tick: after a change to 10,000 zones, all 10,000 flush within one tick and their writes queue in
   * waves of 500 (seconds in all); a session whose queue waited for its wave held the next change back that
   * long (profile of the global at 10,000 zones: ~6 s idle after each change's 1 s of sending, p99 7 s).
   * A failed write is retried on a later tick; the wave keeps a session's writes in order, so a close
   * recorded after it still lands after it.
   */
  #flushProgress(): void {
    const now = Date.now();
    if (this.#zoneState.appliedRevision === this.#flushed.revision || now - this.#flushed.at < (this.deps.progressFlushMs ?? PROGRESS_FLUSH_MS)) return;
    const previous = this.#flushed;
    const flushing = (this.#flushed = { at: now, revision: this.#zoneState.appliedRevision });
    recordProgressInWave(this.deps.resources, this.tenant, this.zone, this.sessionId, this.#zoneState, { counters: this.counters }).catch((err: unknown) => {
      if (this.#flushed === flushing) this.#flushed = previous;
      this.deps.log?.warn('zone state not recorded (retried on a later tick)', { zone: this.zone, tenant: this.tenant, error: errorText(err) });
    });
  }

  // --- upstream: zone -> global --------------------------------------------------------------------

  /**
   * Applies an inventory Delta from the zone (`planBatch`, the rule both planes share). Every resource is
   * validated and mapped into the zone's slice (hashed name, zone labels, pinned zone fields); invalid ones
   * are rejected, the rest applied. A snapshot is staged until its `complete` frame, then replaces the
   * zone's inventory in one transaction.
   */
  async applyUpstream(delta: Delta, checkSeq = true): Promise<{ revision: number; rejections: Rejection[] }> {
    if (checkSeq) {
      if (delta.seq !== this.#upSeq + 1) throw new KdsError('out-of-order', `delta seq ${delta.seq} received, ${this.#upSeq + 1} expected`);
      this.#upSeq = delta.seq;
    }
    const rule = upwardRule(this.zone);
    const plan = planBatch(delta, rule);
    if (delta.snapshot) {
      const id = String(delta.revision);
      // Earlier chunks wait in staging; the last one is applied with them straight away (`completeStaging`).
      const staged = delta.complete
        ? await this.deps.kds.completeStaging(this.tenant, this.zone, id, plan.accepted, this.deps.stagingLimits)
        : await this.deps.kds.stage(this.tenant, this.zone, id, plan.accepted, this.deps.stagingLimits);
      if (!staged.ok) {
        const named = staged.limit === 'resources' ? `${staged.max} resources (MAX_STAGED_RESOURCES, default ${MAX_STAGED_RESOURCES})` : `${formatBytes(staged.max)} (MAX_STAGED_BYTES, default ${formatBytes(MAX_STAGED_BYTES)})`;
        throw new KdsError('limit-exceeded', `the inventory snapshot of zone ${this.zone} exceeds the global's staging limit of ${named}: it was dropped; a zone this large needs the global's limit raised`);
      }
      if ('staged' in staged) await this.#replaceInventory(rule, staged.staged, staged.staged.length > plan.accepted.length, delta.revision);
    } else {
      // Writes only inside the zone's slice: names are hashed with the zone, removals need its labels.
      if (plan.ops.length > 0) await this.deps.resources.apply(this.tenant, plan.ops);
      if (delta.complete) await this.deps.kds.setInventoryRevision(this.tenant, this.zone, delta.revision);
    }
    return { revision: delta.revision, rejections: plan.rejections };
  }

  /** `staged`: the whole snapshot; `wasStaged`: some of it came from staging, which is then cleared. */
  async #replaceInventory(rule: OwnershipRule, staged: readonly StagedRow[], wasStaged: boolean, revision: number): Promise<void> {
    const held = await this.deps.resources.keysWithLabels(this.tenant, rule.ownedBy, rule.kinds);
    const ops = replaceOwnedOps(
      staged.map((r) => ({ kind: r.kind, mesh: r.mesh, name: r.name, labels: r.labels, spec: r.spec })),
      held,
    );
    if (ops.length > 0) await this.deps.resources.apply(this.tenant, ops);
    if (wasStaged) await this.deps.kds.clearStaging(this.tenant, this.zone);
    await this.deps.kds.setInventoryRevision(this.tenant, this.zone, revision);
  }

  // --- liveness -------------------------------------------------------------------------------------

  /**
   * Periodic check while the session lives: renews the lease (losing it means a newer session took over),
   * re-verifies the token (revocation and expiry end the session), and the zone must still be enabled.
   */
  async tick(): Promise<void> {
    if (this.deps.keeper && this.transport === 'ws') {
      // Lease and token are the keeper's job; only the zone's own state is checked here (from the cache).
      await this.#checkOwnZone(true);
      this.#flushProgress();
      return;
    }
    if (!(await this.deps.kds.renew(this.tenant, this.zone, this.sessionId, this.deps.leaseTtlMs, this.cursor))) {
      throw new KdsError('superseded', `a newer session of zone ${this.zone} took over`);
    }
    const check = await this.deps.zoneTokens.verify(this.token, { zone: this.zone, tenant: this.tenant });
    if (!check.ok) throw new KdsError(check.code, check.message);
    await this.#checkOwnZone(true);
  }

  /**
   * Ends the session and closes its subscription. The lease expires at once (Offline now) unless
   * `keepLease`: a global shutting down leaves the lease to run out, so a zone that reconnects to another
   * replica within the lease never shows Offline.
   */
  async close(keepLease = false): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.transport === 'ws') {
      if (!keepLease) await this.deps.kds.closeSession(this.tenant, this.zone, this.sessionId);
      await recordDisconnectInWave(this.deps.resources, this.tenant, this.zone, this.sessionId, this.counters, this.#zoneState);
      this.deps.metrics?.kdsStream(this.transport, -1);
      this.deps.log?.info('zone session closed', { zone: this.zone, tenant: this.tenant, transport: this.transport, session: this.sessionId, appliedRevision: this.#zoneState.appliedRevision });
    }
  }

  async #checkOwnZone(changed: boolean): Promise<void> {
    if (!changed) return;
    if (this.deps.feed) {
      const enabled = (await this.deps.feed.zones(this.tenant)).get(this.zone);
      if (enabled === undefined) throw new KdsError('zone-deleted', `zone ${this.zone} was deleted on the global`);
      if (!enabled) throw new KdsError('zone-disabled', `zone ${this.zone} was disabled on the global (enabled: false)`);
      return;
    }
    const zone = await this.deps.resources.get(this.tenant, { kind: 'Zone', name: this.zone });
    if (!zone) throw new KdsError('zone-deleted', `zone ${this.zone} was deleted on the global`);
    if (zone.spec.enabled === false) throw new KdsError('zone-disabled', `zone ${this.zone} was disabled on the global (enabled: false)`);
  }

  async #zoneEnabledMap(): Promise<Map<string, boolean>> {
    if (this.deps.feed) return this.deps.feed.zones(this.tenant);
    const { items } = await this.deps.resources.list(this.tenant, 'Zone', { limit: 100_000 });
    return new Map(items.map((z: StoredResource) => [z.name, z.spec.enabled !== false]));
  }

  #count(kind: string, what: 'sent' | 'acked' | 'rejected', n = 1) {
    const k = this.counters.byKind.get(kind) ?? { sent: 0, acked: 0, rejected: 0 };
    k[what] += n;
    this.counters.byKind.set(kind, k);
  }
}

/**
 * Packs a feed page as every session deciding `decisions` (one letter per change: `nextFrames`) sends it
 * from `cursor`: frames end at change boundaries (each change has its own revision), so every frame's
 * revision is a position the zone can resume from, and a batch cut short by its byte budget resumes after
 * its last change.
 */
function packChanges(changes: readonly Change[], decisions: string, cursor: number): SharedPage {
  const packer = new DeltaPacker<number>();
  const sentByKind = new Map<string, number>();
  let consumed = cursor;
  let cut = false;
  for (let i = 0; i < changes.length; i++) {
    const change = changes[i]!;
    const d = decisions[i];
    if (d === '-') continue;
    if (change.op === 'upsert' && d === 'u') {
      packer.upsert(toWire(toZone(change.resource)));
      sentByKind.set(change.resource.kind, (sentByKind.get(change.resource.kind) ?? 0) + 1);
    } else {
      packer.remove(change.op === 'upsert' ? { kind: change.resource.kind, mesh: change.resource.mesh, name: change.resource.name } : change.key);
    }
    consumed = change.revision;
    if (packer.frameFull || packer.batchFull) {
      packer.close(consumed);
      if (packer.batchFull) {
        cut = true;
        break;
      }
    }
  }
  packer.close(consumed);
  let base = cursor;
  const frames = packer.frames.map((f): SharedFrame => {
    const delta = { upserts: f.upserts, removals: f.removals, revision: f.meta, baseRevision: base, snapshot: false, complete: true };
    base = f.meta;
    return { delta, body: encodeBody(delta) };
  });
  return { frames, consumed, cut, sentByKind };
}

export type { ResourceDescriptor };
