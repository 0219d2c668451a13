/**
 * The global's outstanding inspect requests on one zone's WebSocket session (`InspectRequest` ->
 * `InspectResponse`, matched by id): Kuma's reverse-unary RPCs over KDS. Bounded: a session holds at most
 * MAX_IN_FLIGHT, each waits at most its timeout, and all are failed when the session ends, so no caller
 * waits on a zone that is gone.
 */
import type { InspectRequest, InspectResponse } from '@ursa/proto/gen/kds.js';

/** Requests waiting on one zone at once; the zone answers at most 16 at a time (`sync-session.ts`). */
export const MAX_IN_FLIGHT = 16;

/** Why a forwarded request got no answer: the caller turns it into Kuma's error. */
export class InspectCallError extends Error {
  constructor(
    readonly reason: 'timeout' | 'busy' | 'ended',
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(r: InspectResponse): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class InspectCalls {
  #next = 0;
  #pending = new Map<number, Pending>();
  #ended?: string;

  /** Sends `req` (with a fresh id) through `send` and waits for the zone's answer, at most `timeoutMs`. */
  ask(req: Omit<InspectRequest, 'id'>, send: (r: InspectRequest) => void, timeoutMs: number): Promise<InspectResponse> {
    if (this.#ended) return Promise.reject(new InspectCallError('ended', this.#ended));
    if (this.#pending.size >= MAX_IN_FLIGHT) return Promise.reject(new InspectCallError('busy', `${MAX_IN_FLIGHT} requests to this zone are already waiting for an answer; retry`));
    const id = ++this.#next;
    return new Promise<InspectResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new InspectCallError('timeout', `no answer from the zone within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      send({ ...req, id });
    });
  }

  /** A response from the zone; one for an unknown id (it timed out meanwhile) is dropped. */
  settle(r: InspectResponse): void {
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    clearTimeout(p.timer);
    p.resolve(r);
  }

  /** The session ended: every waiting caller fails at once, and later asks too. */
  end(message: string): void {
    this.#ended = message;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new InspectCallError('ended', message));
    }
    this.#pending.clear();
  }
}
