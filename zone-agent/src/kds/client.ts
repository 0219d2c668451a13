/**
 * The zone side of KDS: keeps one session with the global, over a WebSocket or HTTP long-poll, and
 * reconnects on its own (exponential backoff with full jitter). Down: applies the global's batches to the
 * local state and acknowledges them. Up: sends the zone's inventory changes, one batch at a time, each
 * waiting for the global's Ack. A watchdog ends a session whose peer went silent (no frame for three
 * heartbeats), in either direction, and the loop starts a new one that resumes from the local cursors.
 */
import WebSocket from 'ws';
import { Frame, Frames, PollRequest, PushRequest, type Delta, type Hello, type ResourceKey, type Welcome } from '@ursa/proto/gen/kds.js';
import { fromWire, type Logger, toWire } from '@ursa/core';
import type { ZoneSyncState } from './state.js';

export interface KdsClientOptions {
  /** http(s)://host:port of the global plane. */
  readonly globalUrl: string;
  readonly zone: string;
  readonly tenant?: string;
  /** Read on every connect, so a rotated token file is picked up without a restart. */
  readonly token: () => Promise<string>;
  readonly transport: 'ws' | 'poll';
  readonly state: SyncState;
  readonly instanceId: string;
  readonly agentVersion: string;
  readonly configJson?: string;
  /** Rings when the zone's own inventory changed (the local store's doorbell). */
  readonly onLocalChange: (listener: () => void) => () => void;
  readonly backoff?: { baseMs: number; maxMs: number };
  /** Long-poll wait per request, seconds. */
  readonly pollWaitS?: number;
  readonly log?: Logger;
  /**
   * The zone's embedded database failed beyond repair in this process (PGlite aborted: its wasm instance
   * is dead or inconsistent). Sync has stopped for good; the agent should exit, and a restart recovers the
   * database from its WAL. Without this hook the client only stops and reports it in `status`.
   */
  readonly onFatal?: (err: Error) => void;
}

export interface KdsStatus {
  connected: boolean;
  transport: 'ws' | 'poll';
  sessionId?: string;
  lastRevision: number;
  lastError?: string;
  connectedAt?: string;
  /** Sessions started since the process began (1 = never reconnected). */
  sessions: number;
  /** Bytes received from / sent to the global since the process began (KDS frames). */
  bytesIn: number;
  bytesOut: number;
  /** Set when sync stopped for good because the zone's database failed (see `onFatal`). */
  fatal?: string;
}

/** What the client needs from the zone's state (ZoneSyncState over the local store; benchmarks use a Map). */
export type SyncState = Pick<ZoneSyncState, 'lastRevision' | 'advance' | 'applyDown' | 'inventoryRevision' | 'inventorySince' | 'inventoryPage'>;

export const CLIENT_FEATURES = ['resume-v1', 'snapshot-complete', 'chunked-deltas', 'hash-suffix'];
const PAGE = 500;

class SessionEnded extends Error {}

/** An abort of the embedded database's wasm instance (PGlite): `RuntimeError: Aborted(...)`. */
function isDatabaseAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'RuntimeError' && err.message.startsWith('Aborted(');
}

export class KdsClient {
  readonly status: KdsStatus;
  #stopped = false;
  #abort?: () => void;
  #loop?: Promise<void>;

  constructor(private readonly o: KdsClientOptions) {
    this.status = { connected: false, transport: o.transport, lastRevision: 0, sessions: 0, bytesIn: 0, bytesOut: 0 };
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { baseMs, maxMs } = this.o.backoff ?? { baseMs: 500, maxMs: 30_000 };
    let failures = 0;
    while (!this.#stopped) {
      const began = Date.now();
      try {
        this.status.sessions += 1;
        await (this.o.transport === 'ws' ? this.#wsSession() : this.#pollSession());
      } catch (err) {
        this.status.lastError = err instanceof Error ? err.message : String(err);
        if (!this.#stopped) this.o.log?.warn(`session ended: ${this.status.lastError}`);
        if (isDatabaseAbort(err)) {
          // PGlite aborted mid-transaction (e.g. a PANIC at commit). The instance may still answer queries,
          // but from a state that no longer matches its files: syncing on would apply and acknowledge
          // changes on top of it and the zone would drift from the global for good. Stop here.
          this.status.connected = false;
          this.status.fatal = `the zone database aborted: ${this.status.lastError}`;
          this.o.log?.error(`sync stopped for good (${this.status.fatal}): restart the agent, the database recovers on start`);
          this.o.onFatal?.(err as Error);
          return;
        }
      }
      this.status.connected = false;
      if (this.#stopped) break;
      // A session that lived long was healthy: start the backoff over.
      failures = Date.now() - began > maxMs ? 1 : failures + 1;
      const delay = Math.random() * Math.min(maxMs, baseMs * 2 ** Math.min(failures, 16));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.#abort = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async #hello(): Promise<Hello> {
    return {
      tenant: this.o.tenant ?? '',
      zone: this.o.zone,
      token: (await this.o.token()).trim(),
      agentVersion: this.o.agentVersion,
      instanceId: this.o.instanceId,
      features: CLIENT_FEATURES,
      lastRevision: await this.o.state.lastRevision(),
      configJson: this.o.configJson ?? '{}',
      inventoryRevision: await this.o.state.inventoryRevision(),
      lastError: this.status.lastError ?? '',
    };
  }

  #welcomed(w: Welcome) {
    this.status.connected = true;
    this.status.sessionId = w.sessionId;
    this.status.connectedAt = new Date().toISOString();
    this.status.lastError = undefined;
    this.o.log?.info(`connected to ${w.globalInstanceId} (${this.o.transport}, ${w.snapshot ? 'snapshot' : 'resume'}, inventory from ${w.inventoryRevision})`);
  }

  /** Applies one downstream Delta; returns the Ack fields. */
  async #applyDown(d: Delta): Promise<{ revision: number; rejections: { key?: ResourceKey; reason: string }[] }> {
    const rejections: { key?: ResourceKey; reason: string }[] = [];
    const upserts = [];
    for (const r of d.upserts) {
      const parsed = fromWire(r);
      if (parsed.ok) upserts.push(parsed.value);
      else rejections.push({ key: parsed.key, reason: parsed.reason });
    }
    rejections.push(...(await this.o.state.applyDown({ upserts, removals: d.removals, revision: d.revision, baseRevision: d.baseRevision, snapshot: d.snapshot, complete: d.complete })));
    if (!d.snapshot || d.complete) this.status.lastRevision = d.revision;
    return { revision: d.revision, rejections };
  }

  /**
   * Produces the zone's next inventory batch(es) after `cursor`: a full snapshot (all frames carry its
   * revision, the last `complete`) or the changes since. Undefined when there is nothing to send.
   */
  async *#inventoryBatches(cursor: { revision: number; snapshot: boolean }): AsyncGenerator<Omit<Delta, 'seq'>> {
    if (!cursor.snapshot) {
      const page = await this.o.state.inventorySince(cursor.revision, PAGE);
      if (!page.resyncRequired) {
        if (page.upserts.length === 0 && page.removals.length === 0) {
          cursor.revision = page.revision;
          return;
        }
        yield { upserts: page.upserts.map(toWire), removals: page.removals, revision: page.revision, baseRevision: cursor.revision, snapshot: false, complete: true };
        return;
      }
      cursor.snapshot = true;
    }
    const revision = await this.o.state.inventoryRevision();
    let after: ResourceKey | undefined;
    for (;;) {
      const page = await this.o.state.inventoryPage(after, PAGE);
      after = page.last;
      yield { upserts: page.resources.map(toWire), removals: [], revision, baseRevision: 0, snapshot: true, complete: page.done, snapshotAfter: after };
      if (page.done) break;
    }
    // Only reached once the last frame was acknowledged (the caller waits for each Ack before asking again).
    cursor.snapshot = false;
    cursor.revision = revision;
  }

  // --- WebSocket ------------------------------------------------------------------------------------

  async #wsSession(): Promise<void> {
    const url = new URL('/kds/v1/stream', this.o.globalUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, { maxPayload: 16 * 1024 * 1024 });
    const inbox: Frame[] = [];
    let wake: (() => void) | undefined;
    let closedWith: string | undefined;
    let lastReceived = Date.now();
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => {
      lastReceived = Date.now();
      this.status.bytesIn += data.byteLength;
      try {
        inbox.push(Frame.decode(data));
      } catch (err) {
        closedWith = `malformed frame from the global: ${(err as Error).message}`;
        ws.close(1008);
      }
      notify();
    });
    ws.on('close', (code, reason) => {
      closedWith ??= `connection closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`;
      notify();
    });
    ws.on('error', (err) => {
      closedWith ??= err.message;
      notify();
    });
    this.#abort = () => {
      closedWith = 'stopped';
      ws.close(1000, 'zone agent stopping');
      notify();
    };
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', () => reject(new SessionEnded(closedWith ?? 'closed before open')));
    });
    const send = (f: Frame) => {
      const bytes = Frame.encode(f).finish();
      this.status.bytesOut += bytes.byteLength;
      ws.send(bytes);
    };
    send({ body: { $case: 'hello', value: await this.#hello() } });

    const next = async (timeoutMs: number): Promise<Frame | undefined> => {
      const deadline = Date.now() + timeoutMs;
      while (inbox.length === 0) {
        if (closedWith) throw new SessionEnded(closedWith);
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
      return inbox.shift();
    };

    const first = await next(10_000);
    if (!first) throw new SessionEnded('no welcome from the global within 10 s');
    if (first.body?.$case === 'error') throw new SessionEnded(`global refused the session: ${first.body.value.code}: ${first.body.value.message}`);
    if (first.body?.$case !== 'welcome') throw new SessionEnded(`expected welcome, got ${first.body?.$case}`);
    const welcome = first.body.value;
    this.#welcomed(welcome);
    const hb = welcome.heartbeatIntervalMs || 5000;

    let upSeq = 0;
    let awaitingUp = 0;
    let downSeq = 0;
    let lastSent = Date.now();
    let localChanged = true;
    const cursor = { revision: welcome.inventoryRevision, snapshot: welcome.inventoryRevision === 0 };
    let batches: AsyncGenerator<Omit<Delta, 'seq'>> | undefined;
    const unsubscribe = this.o.onLocalChange(() => {
      localChanged = true;
      notify();
    });
    try {
      for (;;) {
        // Up: one batch in flight at a time.
        if (!awaitingUp && (localChanged || batches)) {
          localChanged = false;
          batches ??= this.#inventoryBatches(cursor);
          const n = await batches.next();
          if (n.done) batches = undefined;
          else {
            upSeq += 1;
            awaitingUp = upSeq;
            send({ body: { $case: 'delta', value: { seq: upSeq, ...n.value } } });
            lastSent = Date.now();
          }
        }
        const frame = await next(Math.min(hb, 1000));
        if (!frame && Date.now() - lastReceived > 3 * hb) {
          // After a stalled event loop, timers run before pending socket data is read: let I/O in first.
          await new Promise((r) => setImmediate(r));
          if (inbox.length === 0 && Date.now() - lastReceived > 3 * hb) throw new SessionEnded(`no frame from the global for ${3 * hb} ms`);
        }
        if (Date.now() - lastSent >= hb) {
          send({ body: { $case: 'heartbeat', value: { revision: this.status.lastRevision } } });
          lastSent = Date.now();
        }
        if (!frame) continue;
        const body = frame.body;
        if (!body) throw new SessionEnded('empty frame from the global');
        if (body.$case === 'delta') {
          if (body.value.seq !== downSeq + 1) throw new SessionEnded(`global frame ${body.value.seq} out of order (expected ${downSeq + 1})`);
          downSeq = body.value.seq;
          const ack = await this.#applyDown(body.value);
          send({ body: { $case: 'ack', value: { seq: body.value.seq, revision: ack.revision, rejections: ack.rejections } } });
          lastSent = Date.now();
        } else if (body.$case === 'ack') {
          if (body.value.seq === awaitingUp) {
            awaitingUp = 0;
            if (!cursor.snapshot) cursor.revision = body.value.revision;
            // There may be more pages: look again (one cheap query when caught up).
            localChanged = true;
            for (const r of body.value.rejections) this.o.log?.warn(`global rejected ${r.key?.kind}/${r.key?.mesh}/${r.key?.name}: ${r.reason}`);
          }
        } else if (body.$case === 'heartbeat') {
          await this.o.state.advance(body.value.revision);
          if (body.value.revision > this.status.lastRevision) this.status.lastRevision = body.value.revision;
        } else if (body.$case === 'error') {
          throw new SessionEnded(`global ended the session: ${body.value.code}: ${body.value.message}`);
        } else {
          throw new SessionEnded(`unexpected ${body.$case} frame from the global`);
        }
      }
    } finally {
      unsubscribe();
      ws.close();
    }
  }

  // --- long-poll ------------------------------------------------------------------------------------

  async #post(path: string, body: Uint8Array, timeoutMs: number): Promise<Frame[]> {
    const ctrl = new AbortController();
    const t = setTimeout(() => ctrl.abort(), timeoutMs);
    const prev = this.#abort;
    this.#abort = () => {
      ctrl.abort();
      prev?.();
    };
    try {
      this.status.bytesOut += body.byteLength;
      const res = await fetch(new URL(path, this.o.globalUrl), { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/x-protobuf' }, signal: ctrl.signal });
      const bytes = new Uint8Array(await res.arrayBuffer());
      this.status.bytesIn += bytes.byteLength;
      let frames: Frame[];
      try {
        frames = Frames.decode(bytes).frames;
      } catch {
        throw new SessionEnded(`global answered ${res.status} with a body that is not KDS frames`);
      }
      const err = frames.find((f) => f.body?.$case === 'error');
      if (err?.body?.$case === 'error') throw new SessionEnded(`global refused: ${err.body.value.code}: ${err.body.value.message}`);
      return frames;
    } finally {
      clearTimeout(t);
    }
  }

  async #pollSession(): Promise<void> {
    const waitS = this.o.pollWaitS ?? 25;
    let snapshot: { revision: number; after?: ResourceKey } | undefined;
    let welcome: Welcome | undefined;
    /** Highest inventory revision the global acknowledged to our pushes (a poll's Welcome may be older). */
    const pushed = { revision: -1 };
    let pushing: Promise<void> | undefined;
    let pushError: unknown;
    let localChanged = true;
    // Pushes run beside the long poll: a local change goes up at once, not when the current poll returns.
    const kick = () => {
      if (!welcome || pushing || !localChanged || this.#stopped) return;
      localChanged = false;
      // The Welcome was computed when its poll began; our own acknowledged pushes may be newer.
      const from = pushed.revision >= 0 && pushed.revision > welcome.inventoryRevision && welcome.inventoryRevision !== 0 ? pushed.revision : welcome.inventoryRevision;
      pushing = this.#pushAll(from, pushed)
        .catch((err) => {
          pushError = err;
        })
        .finally(() => {
          pushing = undefined;
          kick(); // changes that arrived during the push
        });
    };
    const unsubscribe = this.o.onLocalChange(() => {
      localChanged = true;
      kick();
    });
    try {
      for (;;) {
        if (this.#stopped) return;
        if (pushError) throw pushError;
        const hello = await this.#hello();
        const req: PollRequest = { hello, rejections: [], snapshotRevision: snapshot?.revision ?? 0, snapshotAfter: snapshot?.after };
        const frames = await this.#post(`/kds/v1/poll?wait=${waitS}`, PollRequest.encode(req).finish(), (waitS + 15) * 1000);
        for (const f of frames) {
          const body = f.body;
          if (body?.$case === 'welcome') {
            if (!welcome) this.#welcomed(body.value);
            welcome = body.value;
          } else if (body?.$case === 'delta') {
            await this.#applyDown(body.value);
            snapshot = body.value.snapshot && !body.value.complete ? { revision: body.value.revision, after: body.value.snapshotAfter } : undefined;
          } else if (body?.$case === 'heartbeat') {
            if (!snapshot) {
              await this.o.state.advance(body.value.revision);
              if (body.value.revision > this.status.lastRevision) this.status.lastRevision = body.value.revision;
            }
          }
        }
        kick();
      }
    } finally {
      unsubscribe();
      await pushing;
    }
  }

  /** Pushes inventory batches until caught up, each acknowledged before the next, each with a fresh hello. */
  async #pushAll(from: number, pushed: { revision: number }): Promise<void> {
    const cursor = { revision: from, snapshot: from === 0 };
    let seq = 0;
    for (;;) {
      let sent = false;
      for await (const batch of this.#inventoryBatches(cursor)) {
        seq += 1;
        sent = true;
        const req: PushRequest = { hello: await this.#hello(), delta: { seq, ...batch } };
        const frames = await this.#post('/kds/v1/push', PushRequest.encode(req).finish(), 60_000);
        const ack = frames.find((f) => f.body?.$case === 'ack');
        if (ack?.body?.$case !== 'ack') throw new SessionEnded('push was not acknowledged');
        if (!batch.snapshot) cursor.revision = ack.body.value.revision;
        if (!batch.snapshot || batch.complete) pushed.revision = ack.body.value.revision;
        for (const r of ack.body.value.rejections) this.o.log?.warn(`global rejected ${r.key?.kind}/${r.key?.mesh}/${r.key?.name}: ${r.reason}`);
      }
      if (!sent) return;
    }
  }
}
