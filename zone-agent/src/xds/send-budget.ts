/**
 * A bound on the response bytes the ADS server has written to streams and the transport has not yet
 * flushed (issue 15). A cold start answers thousands of proxies at once with their whole configuration
 * (megabytes each with 1,000 services); written as fast as they are assembled, they would all sit in
 * HTTP/2 buffers at the same time (gigabytes of RSS the allocator then keeps). Past the bound, responses
 * wait in one FIFO queue (so each stream's responses keep their order) until earlier writes are flushed.
 * A response alone larger than the bound still goes out when nothing else is in flight. A write not flushed
 * within `stuckMs` (a client that stopped reading: HTTP/2 flow control holds its bytes) stops counting, so
 * a few stuck clients cannot stall everyone else.
 */
export class SendBudget {
  private inFlight = 0;
  /** Waiting writes from `head` on; a slot is cleared when its write starts (it holds the response's bytes). */
  private readonly queue: ({ readonly bytes: number; readonly write: (done: () => void) => void } | undefined)[] = [];
  private head = 0;

  constructor(
    readonly maxBytes: number,
    readonly stuckMs = 5000,
  ) {}

  /** Bytes written and not yet flushed, and responses waiting (for tests and status). */
  get state(): { inFlight: number; waiting: number } {
    return { inFlight: this.inFlight, waiting: this.queue.length - this.head };
  }

  /**
   * Runs `write` now or once the budget allows; `write` must call `done` exactly when its bytes are flushed
   * or will never be (the stream ended): later calls are ignored.
   */
  submit(bytes: number, write: (done: () => void) => void): void {
    if (this.queue.length > this.head || !this.fits(bytes)) {
      this.queue.push({ bytes, write });
      return;
    }
    this.start(bytes, write);
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.maxBytes;
  }

  private start(bytes: number, write: (done: () => void) => void): void {
    this.inFlight += bytes;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.inFlight -= bytes;
      this.drain();
    };
    const timer = setTimeout(release, this.stuckMs);
    timer.unref?.();
    write(release);
  }

  private drain(): void {
    while (this.queue.length > this.head && this.fits(this.queue[this.head]!.bytes)) {
      const next = this.queue[this.head]!;
      // Started writes must not stay referenced: a heap snapshot after a cold start found up to 1,024 of them
      // (every response of the last stretch, 39 MB at 400 proxies) kept alive by the slots before `head`.
      this.queue[this.head++] = undefined;
      if (this.head === this.queue.length || (this.head > 1024 && this.head * 2 > this.queue.length)) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.start(next.bytes, next.write);
    }
  }
}
