/**
 * Runs one `flush` over every item that arrived while the previous flush ran, so a wave of hellos costs one
 * database write instead of one per zone (each write of a tenant takes the tenant's lock: they queue anyway).
 * A lone item is flushed at once, so nothing waits for a batch to fill.
 */
export class Coalescer<I, R> {
  #pending: { item: I; resolve: (r: R) => void; reject: (err: unknown) => void }[] = [];
  #running = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<R[]>,
    private readonly max = 500,
  ) {}

  run(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, this.max);
        try {
          const out = await this.flush(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(out[i]!));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.#running = false;
    }
  }
}
