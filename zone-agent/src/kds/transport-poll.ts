/**
 * KDS over HTTP long-poll, as an adapter with the stream's semantics (see `transport.ts`):
 * - `POST /kds/v1/poll?wait=<s>` asks for what follows the zone's cursors (its Hello, a snapshot in
 *   progress) and is answered [Welcome, Delta...] or, when the wait ran out, [Welcome, Heartbeat]. The first
 *   Welcome opens the session (each later one restates the global's view as of that request: the session
 *   keeps its own). Deltas are renumbered 1, 2, ... across polls, and the next poll starts only once the
 *   session handled every frame so far, so its Hello carries the cursors those frames moved; rejections the
 *   session acknowledged travel in it too.
 * - Each inventory Delta the session sends is a `POST /kds/v1/push` (with a fresh Hello) beside the poll, and
 *   its answer is the Ack.
 * - An Error frame in any answer, a request that fails or goes unanswered ends the connection.
 * Everything the global needs to continue is in each request, so consecutive requests may reach different
 * replicas.
 */
import { Frame, Frames, PollRequest, PushRequest, type Delta, type Hello, type Rejection, type ResourceKey } from '@ursa/proto/gen/kds.js';
import { MAX_FRAME_BYTES } from '@ursa/core';
import { type FrameSink, type KdsConnection, type KdsTransport, SessionEnded } from './transport.js';

/** How long a push may take to be acknowledged. */
const PUSH_TIMEOUT_MS = 60_000;
/** A poll is answered within its wait; beyond this much more, the global is taken for gone. */
const POLL_GRACE_MS = 15_000;

export function pollTransport(globalUrl: string, waitS: number): KdsTransport {
  return { name: 'poll', open: (hello, sink) => new PollConnection(globalUrl, waitS, hello, sink) };
}

class PollConnection implements KdsConnection {
  readonly quietMs: number;
  #ended = false;
  readonly #abort = new AbortController();
  readonly #inflight = new Set<Promise<void>>();
  #welcomed = false;
  #downSeq = 0;
  #rejections: Rejection[] = [];
  /** A snapshot from the global in progress: its revision and the last key received. */
  #snapshot?: { revision: number; after?: ResourceKey };

  constructor(
    private readonly globalUrl: string,
    private readonly waitS: number,
    private readonly hello: () => Promise<Hello>,
    private readonly sink: FrameSink,
  ) {
    this.quietMs = (waitS * 1000) + POLL_GRACE_MS;
    this.#track(this.#polls());
  }

  send(frame: Frame): void {
    const body = frame.body;
    if (this.#ended || !body) return;
    // Heartbeats need no request: the next poll's Hello carries the zone's revision.
    if (body.$case === 'ack') this.#rejections.push(...body.value.rejections);
    else if (body.$case === 'delta') this.#track(this.#push(body.value));
  }

  async close(): Promise<void> {
    this.#ended = true;
    this.#abort.abort();
    await Promise.allSettled([...this.#inflight]);
  }

  #end(err: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#abort.abort();
    this.sink.end(err);
  }

  #track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => this.#end(err instanceof Error ? err : new Error(String(err)))).finally(() => this.#inflight.delete(tracked));
    this.#inflight.add(tracked);
  }

  async #polls(): Promise<void> {
    for (;;) {
      await this.sink.drained();
      if (this.#ended) return;
      const req: PollRequest = {
        hello: await this.hello(),
        rejections: this.#rejections.splice(0),
        snapshotRevision: this.#snapshot?.revision ?? 0,
        snapshotAfter: this.#snapshot?.after,
      };
      const frames = await this.#post(`/kds/v1/poll?wait=${this.waitS}`, PollRequest.encode(req).finish(), this.quietMs);
      if (this.#ended) return;
      for (const f of frames) {
        const body = f.body;
        if (body?.$case === 'welcome') {
          if (this.#welcomed) continue;
          this.#welcomed = true;
          this.sink.frame(f);
        } else if (body?.$case === 'delta') {
          // Each poll numbers its Deltas from 1: the session sees one sequence.
          this.#downSeq += 1;
          const d = body.value;
          this.#snapshot = d.snapshot && !d.complete ? { revision: d.revision, after: d.snapshotAfter } : undefined;
          this.sink.frame({ body: { $case: 'delta', value: { ...d, seq: this.#downSeq } } });
        } else if (body?.$case === 'heartbeat') {
          this.sink.frame(f);
        }
      }
    }
  }

  async #push(delta: Delta): Promise<void> {
    const req: PushRequest = { hello: await this.hello(), delta };
    const frames = await this.#post('/kds/v1/push', PushRequest.encode(req).finish(), PUSH_TIMEOUT_MS);
    const ack = frames.find((f) => f.body?.$case === 'ack');
    if (!ack) throw new SessionEnded('push was not acknowledged');
    if (!this.#ended) this.sink.frame(ack);
  }

  /** One request; its Frames, or the reason it ended the connection. */
  async #post(path: string, body: Uint8Array, timeoutMs: number): Promise<Frame[]> {
    const ctrl = new AbortController();
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, timeoutMs);
    const stop = () => ctrl.abort();
    this.#abort.signal.addEventListener('abort', stop, { once: true });
    try {
      this.sink.bytes('out', body.byteLength);
      let res: Response;
      let bytes: Uint8Array;
      try {
        const send = () => fetch(new URL(path, this.globalUrl), { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/x-protobuf' }, signal: ctrl.signal });
        try {
          res = await send();
        } catch (err) {
          // A kept-alive connection the global closed while the zone was busy (applying a large batch) is
          // reset when reused: send once more on a new one. Polls and pushes are idempotent (the Hello names
          // the cursors; a Delta applied twice writes the same state).
          if (ctrl.signal.aborted || (err as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET') throw err;
          res = await send();
        }
        // An answer is bounded like a WebSocket message (the global packs its frames to fit): a larger one is
        // refused before it is read, not downloaded whole.
        const declared = Number(res.headers.get('content-length') ?? 0);
        if (declared > MAX_FRAME_BYTES) {
          ctrl.abort();
          throw new SessionEnded(`global answered ${path.split('?')[0]} with ${declared} bytes, over the ${MAX_FRAME_BYTES}-byte frame limit`);
        }
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        if (err instanceof SessionEnded) throw err;
        if (timedOut) throw new SessionEnded(`no answer to ${path.split('?')[0]} from the global within ${Math.round(timeoutMs / 1000)} s`);
        // fetch says only "fetch failed"; why is in its cause (ECONNREFUSED, a reset, a connect timeout...).
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        if (err instanceof TypeError && cause) throw new SessionEnded(`${err.message} (${path.split('?')[0]}): ${cause.message ?? ''}${cause.code ? ` (${cause.code})` : ''}`);
        throw err;
      }
      this.sink.bytes('in', bytes.byteLength);
      if (bytes.byteLength > MAX_FRAME_BYTES) throw new SessionEnded(`global answered ${path.split('?')[0]} with ${bytes.byteLength} bytes, over the ${MAX_FRAME_BYTES}-byte frame limit`);
      let frames: Frame[];
      try {
        frames = Frames.decode(bytes).frames;
      } catch {
        throw new SessionEnded(`global answered ${res.status} with a body that is not KDS frames`);
      }
      const err = frames.find((f) => f.body?.$case === 'error');
      if (err?.body?.$case === 'error') throw new SessionEnded(`global refused: ${err.body.value.code}: ${err.body.value.message}`, err.body.value.code);
      return frames;
    } finally {
      clearTimeout(t);
      this.#abort.signal.removeEventListener('abort', stop);
    }
  }
}
