/**
 * The session's side of a connection: frames from the global queue here in order until the session takes
 * them; the connection's end, a local change or a stop wake the session up. It also keeps the silence clock:
 * how long the session has been waiting for the global without hearing from it. Time the session spends on
 * its own work (applying a large batch) does not count: a request/response transport asks nothing meanwhile.
 */
import type { Frame } from '@ursa/proto/gen/kds.js';
import type { FrameSink } from './transport.js';

export class Inbox implements FrameSink {
  #frames: Frame[] = [];
  #ended?: Error;
  #wake?: () => void;
  /** The session took a frame and has not come back for the next one yet. */
  #busy = false;
  #drainWaiters: (() => void)[] = [];
  #quietMs = 0;

  constructor(private readonly counted: (direction: 'in' | 'out', n: number) => void) {}

  /** Milliseconds the session waited since the global last said something. */
  get quietMs(): number {
    return this.#quietMs;
  }

  frame(frame: Frame): void {
    if (this.#ended) return;
    this.#frames.push(frame);
    this.#quietMs = 0;
    this.ring();
  }

  end(err: Error): void {
    this.#ended ??= err;
    this.ring();
    this.#checkDrained();
  }

  bytes(direction: 'in' | 'out', n: number): void {
    this.counted(direction, n);
  }

  drained(): Promise<void> {
    if (this.#isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Wakes a waiting `next` (a frame, the end, or something for the session to look at). */
  ring(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * The next frame, or undefined when `waitMs` passed or something rang first. Once the connection ended
   * and every frame was taken, throws the reason it ended. Calling it means the previous frame was handled.
   */
  async next(waitMs: number): Promise<Frame | undefined> {
    this.#busy = false;
    this.#checkDrained();
    const started = Date.now();
    if (this.#frames.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    const frame = this.#frames.shift();
    if (frame) {
      this.#busy = true;
      return frame;
    }
    if (this.#ended) throw this.#ended;
    this.#quietMs += Date.now() - started;
    return undefined;
  }

  #isDrained(): boolean {
    return this.#ended !== undefined || (this.#frames.length === 0 && !this.#busy);
  }

  #checkDrained(): void {
    if (!this.#isDrained()) return;
    const waiters = this.#drainWaiters.splice(0);
    for (const w of waiters) w();
  }
}
