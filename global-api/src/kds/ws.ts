/**
 * KDS over a WebSocket (`/kds/v1/stream`, binary frames): drives a ZoneSession. Frames from the zone are
 * handled one at a time, in order; downstream frames go out one batch at a time and the next batch waits
 * for the zone's Ack (flow control: a slow zone never gets an unbounded queue). Idle sides exchange
 * heartbeats; three missed heartbeats end the session, and the lease runs out on its own if this process
 * dies. The global's heartbeats go out from their timer, not through the queue: a pump that waits long on
 * the database or packs a large batch must not look like a dead global to the zone.
 */
import type { Frame, Hello, InspectRequest, InspectResponse } from '@ursa/proto/gen/kds.js';
import { createLogger, decodeFrame, encodeFrame, errorText, KdsError, type Logger, type Waker } from '@ursa/core';
import { ZoneSession, type SessionDeps } from './session.js';
import { publicKdsError } from './public-error.js';
import { checkFrame } from './validate.js';
import { InspectCalls } from './inspect-calls.js';
import { deltaFrameBytes } from './shared-frames.js';

/** What the driver needs from the socket: a Hono `WSContext` fits. */
export interface SocketLike {
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export interface StreamOptions {
  readonly session: SessionDeps;
  readonly waker: Waker;
  /** Called for every session that ends, with the reason (for logs and tests). */
  readonly onEnd?: (info: { zone?: string; code: string; message: string }) => void;
  readonly tracker?: StreamTracker;
  /** Where failures are logged (default: the console). */
  readonly log?: Logger;
}

/** The live stream sessions of a process, so shutdown can end them cleanly (zones go Offline at once). */
export class StreamTracker {
  #drivers = new Set<StreamDriver>();
  add(d: StreamDriver): void {
    this.#drivers.add(d);
  }
  delete(d: StreamDriver): void {
    this.#drivers.delete(d);
  }
  get size(): number {
    return this.#drivers.size;
  }
  /** The live session of a zone held by this process, if any (the newest, should two overlap for a moment). */
  find(tenant: string, zone: string): StreamDriver | undefined {
    let found: StreamDriver | undefined;
    for (const d of this.#drivers) if (d.live && d.tenant === tenant && d.zone === zone) found = d;
    return found;
  }
  /**
   * Ends every session (Error frame `internal`: the global is shutting down) and waits until each is
   * closed. Leases are left to run out: zones reconnect elsewhere without showing Offline.
   */
  async closeAll(reason = 'the global is shutting down'): Promise<void> {
    await Promise.all([...this.#drivers].map((d) => d.shutdown(reason)));
  }
}

export class StreamDriver {
  #session?: ZoneSession;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #awaitingAck = 0;
  #pumping = false;
  #wakePending = false;
  #lastReceived = Date.now();
  #lastSent = Date.now();
  /** The revision the frames sent so far bring the zone to: all a heartbeat may claim. */
  #sentRevision = 0;
  /** A liveness check (tick, missed wake-up) waits in the queue: a long pump does not pile them up. */
  #beatQueued = false;
  #timer?: ReturnType<typeof setInterval>;
  #helloTimer?: ReturnType<typeof setTimeout>;
  #unsubscribe?: () => void;
  #unkeep?: () => void;

  #ended?: Promise<void>;
  readonly #log: Logger;
  readonly #inspects = new InspectCalls();

  constructor(
    private readonly socket: SocketLike,
    private readonly opts: StreamOptions,
  ) {
    this.#log = opts.log ?? createLogger({ level: 'info', name: 'kds' });
    opts.tracker?.add(this);
    // A peer that connects and never says hello would hold its socket forever: same rule as a silent
    // session (three heartbeats). Checked in the queue, so a hello being authenticated is not cut short.
    const helloWithinMs = 3 * opts.session.heartbeatMs;
    this.#helloTimer = setTimeout(() => {
      this.#queue = this.#queue
        .then(() => {
          if (!this.#session && !this.#closed) throw new KdsError('unauthenticated', `no hello within ${helloWithinMs} ms of connecting`);
        })
        .catch((err) => this.#fail(err));
    }, helloWithinMs);
  }

  get live(): boolean {
    return Boolean(this.#session) && !this.#closed;
  }
  get tenant(): string | undefined {
    return this.#session?.tenant;
  }
  get zone(): string | undefined {
    return this.#session?.zone;
  }
  /** Features both sides agreed in the Welcome. */
  get features(): readonly string[] {
    return this.#session?.welcome.features ?? [];
  }

  /**
   * Asks the zone about one of its proxies and waits for its answer (at most `timeoutMs`); fails with an
   * `InspectCallError` when the session ends first, too many requests wait, or the zone is silent.
   */
  inspect(req: Omit<InspectRequest, 'id'>, timeoutMs: number): Promise<InspectResponse> {
    return this.#inspects.ask(req, (r) => this.#send({ body: { $case: 'inspectRequest', value: r } }), timeoutMs);
  }

  /** Ends the session from this side and waits until its lease and subscription are closed. */
  async shutdown(reason: string): Promise<void> {
    this.#send({ body: { $case: 'error', value: { code: 'internal', message: reason } } });
    await this.#end('shutdown', reason);
    this.socket.close(1001, closeReason(reason));
  }

  /** Feed every binary message here; they are processed strictly in arrival order. */
  receive(data: Uint8Array): void {
    this.#lastReceived = Date.now();
    // An inspect answer is settled at once, not behind a batch being applied: its caller is waiting.
    if (this.#session && this.#settleInspect(data)) return;
    this.#queue = this.#queue.then(() => this.#handle(data)).catch((err) => this.#fail(err));
  }

  /** A text (non-binary) WebSocket message: a protocol error like any other bad frame, ended the same way. */
  receiveText(): void {
    this.#lastReceived = Date.now();
    this.#queue = this.#queue
      .then(() => {
        if (!this.#closed) throw new KdsError('bad-frame', 'text message received: KDS frames are binary protobuf messages');
      })
      .catch((err) => this.#fail(err));
  }

  /** The socket closed (either side). */
  closed(): void {
    void this.#end('closed', 'connection closed');
  }

  /** True when `data` was an InspectResponse (settled); anything else goes through the queue. */
  #settleInspect(data: Uint8Array): boolean {
    // Frame's oneof is its only field: an InspectResponse (field 8, length-delimited) starts with 0x42, so
    // other frames (Deltas of up to 16 MiB) are not decoded twice.
    if (data[0] !== 0x42) return false;
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch {
      return false; // the queue reports it
    }
    if (frame.body?.$case !== 'inspectResponse') return false;
    checkInspectResponse(frame.body.value, this.#inspects, (err) => {
      this.#queue = this.#queue.then(() => this.#fail(err));
    });
    return true;
  }

  async #handle(data: Uint8Array): Promise<void> {
    if (this.#closed) return;
    const frame = decodeFrame(data);
    checkFrame(frame);
    const body = frame.body!;
    if (!this.#session) {
      if (body.$case !== 'hello') throw new KdsError('bad-frame', `the first frame must be hello, got ${body.$case}`);
      await this.#start(body.value);
      return;
    }
    switch (body.$case) {
      case 'delta': {
        const result = await this.#session.applyUpstream(body.value);
        this.#send({ body: { $case: 'ack', value: { seq: body.value.seq, revision: result.revision, rejections: result.rejections } } });
        return;
      }
      case 'ack':
        await this.#session.acknowledged(body.value);
        if (body.value.seq >= this.#awaitingAck) {
          this.#awaitingAck = 0;
          // Read the feed again only if a change came meanwhile or the session has more to send: after one
          // change to 10,000 zones, each Ack read an empty page (half of `nextFrames`' calls in the profile).
          if (this.#wakePending || this.#session.more) this.#pump();
        }
        return;
      case 'heartbeat':
        this.#session.zoneReported(body.value.revision);
        return;
      case 'error':
        // Runs inside the queue: #end must not wait for it (that is this very frame).
        await this.#end('peer-error', `zone ended the session: ${body.value.code}: ${body.value.message}`, true);
        this.socket.close(1000, 'zone ended the session');
        return;
      default:
        throw new KdsError('bad-frame', `unexpected ${body.$case} frame after the handshake`);
    }
  }

  async #start(hello: Hello): Promise<void> {
    const session = await ZoneSession.attach(this.opts.session, hello, 'ws', crypto.randomUUID(), () => this.#closed);
    if (!session) return; // closed while the hello was checked: no lease was taken
    if (this.#closed) {
      // The socket closed while the lease was being taken (a zone that gave up waiting): release it. Going on
      // would leave a session nobody can end, renewing its lease for ever.
      await session.close(false).catch((err) => this.#log.error('closing session failed', { error: errorText(err) }));
      return;
    }
    this.#session = session;
    this.#unkeep = this.opts.session.keeper?.add({
      tenant: session.tenant,
      zone: session.zone,
      sessionId: session.sessionId,
      jti: session.claims.jti,
      expiresAt: session.claims.exp * 1000,
      acked: () => session.cursor,
      lost: (code, message) => {
        // Ends the session like any failure: as a link of the queue, after the frame being handled.
        this.#queue = this.#queue.then(() => this.#fail(new KdsError(code, message)));
      },
    });
    clearTimeout(this.#helloTimer);
    this.#send({ body: { $case: 'welcome', value: session.welcome } });
    const interest = ZoneSession.interest();
    this.#unsubscribe = this.opts.waker.subscribe(session.tenant, (kind) => {
      if (kind === '*' || interest.has(kind)) this.#pump();
    });
    this.#sentRevision = session.cursor;
    const hb = this.opts.session.heartbeatMs;
    this.#timer = setInterval(() => {
      // Straight from the timer: the queue may be held by a pump for longer than the zone's silence bound.
      if (Date.now() - this.#lastSent >= hb) this.#send({ body: { $case: 'heartbeat', value: { revision: this.#sentRevision } } });
      if (this.#beatQueued) return;
      this.#beatQueued = true;
      this.#queue = this.#queue
        .then(() => {
          this.#beatQueued = false;
          return this.#beat(hb);
        })
        .catch((err) => this.#fail(err));
    }, Math.max(50, Math.floor(hb / 2)));
    this.#pump();
  }

  async #beat(hb: number): Promise<void> {
    if (this.#closed || !this.#session) return;
    if (Date.now() - this.#lastReceived > 3 * hb) {
      // After a stalled event loop (a large batch packed or applied in this process), timers run before the
      // socket data that arrived meanwhile is read: let I/O in first, as the zone's watchdog does.
      await new Promise((r) => setTimeout(r, 0));
      if (Date.now() - this.#lastReceived > 3 * hb) throw new KdsError('internal', `no frame from zone ${this.#session.zone} for ${3 * hb} ms`);
    }
    await this.#session.tick();
    // A missed wake-up (e.g. while the LISTEN connection reconnected) costs at most one heartbeat.
    this.#pump();
  }

  /** Sends the next batch if none is waiting for its Ack; coalesces wake-ups that arrive meanwhile. */
  #pump(): void {
    if (this.#closed || !this.#session) return;
    if (this.#pumping || this.#awaitingAck) {
      this.#wakePending = true;
      return;
    }
    this.#pumping = true;
    this.#wakePending = false;
    this.#queue = this.#queue
      .then(async () => {
        const before = this.#session!.cursor;
        const frames = await this.#session!.nextFrames();
        // Frames of a change many zones get are encoded once for all of them (`shared-frames.ts`).
        for (const delta of frames) this.#sendBytes(deltaFrameBytes(delta));
        // Only now may a heartbeat name the cursor: every frame up to it is on the socket, ahead of the heartbeat.
        this.#sentRevision = this.#session!.cursor;
        if (frames.length > 0) this.#awaitingAck = frames[frames.length - 1]!.seq;
        // Pages with nothing for this zone still advance the cursor: keep reading until caught up.
        else if (this.#session!.cursor !== before) this.#wakePending = true;
      })
      .catch((err) => this.#fail(err))
      .finally(() => {
        this.#pumping = false;
        if (this.#wakePending && !this.#awaitingAck) this.#pump();
      });
  }

  #send(frame: Frame): void {
    if (this.#closed) return;
    this.#sendBytes(encodeFrame(frame));
  }

  #sendBytes(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#lastSent = Date.now();
    this.socket.send(bytes);
  }

  async #fail(err: unknown): Promise<void> {
    // The zone learns what it did wrong, or `internal` with a trace id: never the text of an internal error.
    const e = publicKdsError(err, this.#log, 'session failed', { zone: this.#session?.zone });
    this.#send({ body: { $case: 'error', value: { code: e.code, message: e.message } } });
    // #fail always runs as a link of #queue (after a frame, a pump or a beat failed): waiting for the queue
    // here would wait for itself, and the socket would never be closed nor the session released.
    await this.#end(e.code, e.message, true);
    // 1008: policy violation (auth, protocol); 1011: server error; 1013: try again later.
    this.socket.close(e.code === 'internal' ? 1011 : e.code === 'unavailable' ? 1013 : 1008, closeReason(e.message));
  }

  /**
   * `inQueue`: called from a link of #queue, which must then not be awaited (it would never settle); and if
   * another path (shutdown, socket closed) is already ending the session, it waits for the queue, so an
   * in-queue caller must not wait for that either.
   */
  #end(code: string, message: string, inQueue = false): Promise<void> {
    if (this.#ended) return inQueue ? Promise.resolve() : this.#ended;
    this.#closed = true;
    this.#inspects.end(`the zone's session ended (${code}) before it answered`);
    clearInterval(this.#timer);
    clearTimeout(this.#helloTimer);
    this.#unsubscribe?.();
    this.#unkeep?.();
    this.opts.onEnd?.({ zone: this.#session?.zone, code, message });
    this.#ended = (async () => {
      // Let a frame being handled finish first, so the close does not race its writes.
      if (!inQueue) await this.#queue.catch(() => {});
      await this.#session?.close(code === 'shutdown').catch((err) => this.#log.error('closing session failed', { error: errorText(err) }));
      this.opts.tracker?.delete(this);
    })();
    return this.#ended;
  }
}

/** Settles a zone's answer, or ends the session when the answer is malformed (`validate.ts` bounds). */
function checkInspectResponse(r: InspectResponse, calls: InspectCalls, fail: (err: unknown) => void): void {
  try {
    checkFrame({ body: { $case: 'inspectResponse', value: r } });
  } catch (err) {
    fail(err);
    return;
  }
  calls.settle(r);
}

/**
 * A WebSocket close reason is at most 123 bytes of UTF-8 (ws throws otherwise, and the socket would stay
 * open): messages quoting what a zone sent (e.g. a non-ASCII zone name) are cut by bytes, not characters.
 */
export function closeReason(message: string): string {
  const bytes = new TextEncoder().encode(message);
  if (bytes.byteLength <= 123) return message;
  // Drop a partial trailing character (the decoder turns it into U+FFFD, which is 3 bytes: cut it off).
  return new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD$/, '');
}
