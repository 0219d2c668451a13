/**
 * One KDS session of the zone, whatever the transport: connect and say Hello, wait for the Welcome, then
 * both directions at once until the session ends.
 * - Down: the global's Deltas are applied to the local state (a snapshot replaces it once complete) and
 *   acknowledged with the per-resource rejections; they must arrive numbered 1, 2, ...
 * - Up: the zone's inventory changes go up one frame at a time, each waiting for the global's Ack (whose
 *   rejections are logged: the rest of the batch was applied, and sync goes on); a batch too large for one
 *   frame goes as several (`upward.ts`), and only the Ack of its `complete` frame moves the cursor.
 * - Heartbeats: an idle zone sends one every interval the Welcome names; the global's move the zone's cursor.
 * - Silence: a global heard nothing from for three heartbeat intervals of waiting (or the transport's longer
 *   bound: a long poll is answered only when its wait ends) is gone. It is checked at least once a second,
 *   so the session ends within 3 intervals + min(interval, 1 s) of the last frame.
 * It always ends by throwing: `SessionEnded` with the reason, or the error that broke it (the client tells
 * a dead database from the rest).
 */
import type { Delta, Frame, Hello, InspectRequest, InspectResponse, Rejection, Welcome } from '@ursa/proto/gen/kds.js';
import type { Logger } from '@ursa/core';
import { Inbox } from './inbox.js';
import type { SyncState } from './state.js';
import { type KdsConnection, type KdsTransport, SessionEnded } from './transport.js';
import { inventoryBatches, type UpCursor } from './upward.js';

/** A Welcome must follow the Hello this fast (or within the transport's quiet bound, if longer). */
export const WELCOME_WITHIN_MS = 10_000;
/** Heartbeat interval when the Welcome names none. */
const DEFAULT_HEARTBEAT_MS = 5000;

/** Where the session reports what the client shows in its status. */
export interface SessionReport {
  welcomed(welcome: Welcome): void;
  /** A Delta brought the zone to `revision` (a snapshot only once complete). */
  applied(revision: number): void;
  /** A heartbeat said the zone has everything up to `revision`. */
  advanced(revision: number): void;
  /** The revision the zone has applied, for its heartbeats. */
  revision(): number;
  bytes(direction: 'in' | 'out', n: number): void;
}

export interface SessionContext {
  readonly transport: KdsTransport;
  readonly state: SyncState;
  readonly hello: () => Promise<Hello>;
  /** Rings when the zone's own inventory changed. */
  readonly onLocalChange: (listener: () => void) => () => void;
  readonly report: SessionReport;
  readonly log?: Logger;
  /** Answers the global's inspect requests (`inspect-v1`); each runs beside the session loop, never blocking it. */
  readonly inspect?: (req: InspectRequest) => Promise<InspectResponse>;
}

/** Inspect requests the zone answers at once; more are refused (the global sends far fewer: see forward.ts). */
const MAX_INSPECTS_IN_FLIGHT = 16;

export class SyncSession {
  readonly #inbox: Inbox;
  #stopping = false;

  constructor(private readonly ctx: SessionContext) {
    this.#inbox = new Inbox((d, n) => ctx.report.bytes(d, n));
  }

  /** Ends the session from this side (the zone agent stops); `run` then throws `SessionEnded('stopped')`. */
  stop(): void {
    this.#stopping = true;
    this.#inbox.end(new SessionEnded('stopped'));
  }

  async run(): Promise<never> {
    const conn = this.ctx.transport.open(this.ctx.hello, this.#inbox);
    try {
      const welcome = await this.#welcome(conn);
      this.ctx.report.welcomed(welcome);
      return await this.#converse(conn, welcome);
    } finally {
      await conn.close(this.#stopping ? 'zone agent stopping' : 'session ended');
    }
  }

  async #welcome(conn: KdsConnection): Promise<Welcome> {
    const within = Math.max(WELCOME_WITHIN_MS, conn.quietMs ?? 0);
    const deadline = Date.now() + within;
    let first: Frame | undefined;
    while (!first) {
      const left = deadline - Date.now();
      if (left <= 0) throw new SessionEnded(`no welcome from the global within ${Math.round(within / 1000)} s`);
      first = await this.#inbox.next(left);
    }
    const body = first.body;
    if (body?.$case === 'error') throw new SessionEnded(`global refused the session: ${body.value.code}: ${body.value.message}`, body.value.code);
    if (body?.$case !== 'welcome') throw new SessionEnded(`expected welcome, got ${body?.$case}`);
    return body.value;
  }

  async #converse(conn: KdsConnection, welcome: Welcome): Promise<never> {
    const { state, report, log } = this.ctx;
    const inbox = this.#inbox;
    const hb = welcome.heartbeatIntervalMs || DEFAULT_HEARTBEAT_MS;
    const silenceMs = Math.max(3 * hb, conn.quietMs ?? 0);
    let lastSent = Date.now();
    const send = (frame: Frame) => {
      conn.send(frame);
      lastSent = Date.now();
    };

    let downSeq = 0;
    /** A snapshot from the global is in progress: heartbeats do not move the cursor past what it replaces. */
    let downSnapshot = false;
    let upSeq = 0;
    let awaitingUp = 0;
    /** The frame in flight ends its batch: its Ack moves the inventory cursor. */
    let awaitingComplete = false;
    let localChanged = true;
    const cursor: UpCursor = { acked: welcome.inventoryRevision, revision: welcome.inventoryRevision, snapshot: welcome.inventoryRevision === 0 };
    let batches: AsyncGenerator<Omit<Delta, 'seq'>> | undefined;
    let inspecting = 0;
    const unsubscribe = this.ctx.onLocalChange(() => {
      localChanged = true;
      inbox.ring();
    });
    try {
      for (;;) {
        // Up: one batch in flight at a time. A change noticed while a batch was in flight is looked at once
        // that batch is done (finishing a batch must not swallow it), and so are further pages.
        while (!awaitingUp && (localChanged || batches)) {
          if (!batches) {
            localChanged = false;
            batches = inventoryBatches(state, cursor);
          }
          const n = await batches.next();
          if (n.done) {
            batches = undefined;
            continue;
          }
          upSeq += 1;
          awaitingUp = upSeq;
          awaitingComplete = n.value.complete;
          send({ body: { $case: 'delta', value: { seq: upSeq, ...n.value } } });
        }

        const frame = await inbox.next(Math.min(hb, 1000));
        if (!frame && inbox.quietMs > silenceMs) {
          // After a stalled event loop, timers run before pending socket data is read: let I/O in first.
          await new Promise((r) => setImmediate(r));
          if (inbox.quietMs > silenceMs) throw new SessionEnded(`no frame from the global for ${silenceMs} ms`);
        }
        if (Date.now() - lastSent >= hb) send({ body: { $case: 'heartbeat', value: { revision: report.revision() } } });
        if (!frame) continue;

        const body = frame.body;
        if (!body) throw new SessionEnded('empty frame from the global');
        switch (body.$case) {
          case 'delta': {
            const d = body.value;
            if (d.seq !== downSeq + 1) throw new SessionEnded(`global frame ${d.seq} out of order (expected ${downSeq + 1})`);
            downSeq = d.seq;
            // Applying a large batch may outlast three heartbeats on a busy zone: keep saying we are here (with
            // the revision applied so far), or the global takes the silence for a dead zone and ends the session.
            const beat = setInterval(() => send({ body: { $case: 'heartbeat', value: { revision: report.revision() } } }), hb);
            let rejections: Rejection[];
            try {
              rejections = await state.applyDown(d);
            } finally {
              clearInterval(beat);
            }
            downSnapshot = d.snapshot && !d.complete;
            if (!downSnapshot) report.applied(d.revision);
            log?.debug(`applied ${d.upserts.length - rejections.length} of ${d.upserts.length} resources and ${d.removals.length} removals from the global`, {
              seq: d.seq,
              revision: d.revision,
              ...(d.snapshot ? { snapshot: d.complete ? 'complete' : 'partial' } : {}),
              ...(rejections.length ? { rejected: rejections.map(keyText) } : {}),
            });
            send({ body: { $case: 'ack', value: { seq: d.seq, revision: d.revision, rejections } } });
            break;
          }
          case 'ack': {
            const ack = body.value;
            if (ack.seq !== awaitingUp) break;
            awaitingUp = 0;
            // The first frames of a batch split by size leave the cursor where the batch starts.
            if (!cursor.snapshot && awaitingComplete) {
              cursor.acked = ack.revision;
              cursor.revision = ack.revision;
            }
            // There may be more pages: look again (one cheap query when caught up).
            localChanged = true;
            log?.debug(`the global applied inventory batch ${ack.seq}`, { revision: ack.revision, ...(ack.rejections.length ? { rejected: ack.rejections.length } : {}) });
            this.#rejected(ack.rejections);
            break;
          }
          case 'heartbeat':
            if (downSnapshot) break;
            await state.advance(body.value.revision);
            report.advanced(body.value.revision);
            break;
          case 'inspectRequest': {
            const req = body.value;
            const answer = (r: InspectResponse) => send({ body: { $case: 'inspectResponse', value: r } });
            const refuse = (status: number, reason: string) => answer({ id: req.id, status, contentType: 'text/plain', body: Buffer.from(reason, 'utf8') });
            if (!this.ctx.inspect) refuse(501, 'this zone agent does not answer inspect requests');
            else if (inspecting >= MAX_INSPECTS_IN_FLIGHT) refuse(429, `the zone agent is already answering ${MAX_INSPECTS_IN_FLIGHT} inspect requests`);
            else {
              // Answered beside the loop: reading a large config must not hold up Deltas and heartbeats. The
              // answer goes out whenever it is ready (after this session ended, the send is a no-op).
              inspecting += 1;
              this.ctx
                .inspect(req)
                .then(answer, (err: Error) => refuse(500, `the zone agent failed to answer: ${err.message}`))
                .finally(() => (inspecting -= 1));
            }
            break;
          }
          case 'error':
            throw new SessionEnded(`global ended the session: ${body.value.code}: ${body.value.message}`, body.value.code);
          default:
            throw new SessionEnded(`unexpected ${body.$case} frame from the global`);
        }
      }
    } finally {
      unsubscribe();
    }
  }

  /** The global refused some of the zone's resources; the rest of their batch applied and sync goes on. */
  #rejected(rejections: readonly Rejection[]): void {
    for (const r of rejections) this.ctx.log?.warn(`global rejected ${keyText(r)}: ${r.reason}`);
  }
}

const keyText = (r: Rejection) => `${r.key?.kind}/${r.key?.mesh}/${r.key?.name}`;
