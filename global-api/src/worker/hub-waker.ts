/**
 * The KDS hub's doorbell (a `Waker` for the sessions of its one tenant). Hyperdrive cannot LISTEN, so it is
 * rung two ways:
 * - directly, at once: every write of something zones receive made through this Worker (HTTP API, long-poll
 *   pushes, the hub's own inventory writes, e.g. a ZoneIngress) rings it after commit (`ringingStores`; from
 *   a request, `POST /wake` to the hub);
 * - by its own watch of the tenant's revision every `intervalMs` (one primary-key read per tenant, however
 *   many zones are connected), for writes that did not go through the Worker: another replica or a Node
 *   global on the same database, or a ring lost with a failed request.
 * The watch runs only while someone listens, so an idle hub does no I/O and can be evicted.
 */
import type { Waker, WakeListener } from '@ursa/core';

export class HubWaker implements Waker {
  #listeners = new Set<WakeListener>();
  #timer?: ReturnType<typeof setInterval>;
  #seen?: number;
  #busy = false;

  constructor(
    private readonly tenant: string,
    private readonly readRevision: () => Promise<number>,
    private readonly intervalMs: number,
  ) {}

  subscribe(tenant: string, listener: WakeListener): () => void {
    if (tenant !== this.tenant) throw new Error(`the KDS hub of tenant ${JSON.stringify(this.tenant)} was asked to watch tenant ${JSON.stringify(tenant)}`);
    this.#listeners.add(listener);
    this.#timer ??= setInterval(() => void this.#check(), this.intervalMs);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** "Something changed, look": `*`, as the feed cache and the stream driver understand it. */
  ring(): void {
    for (const l of [...this.#listeners]) l('*');
  }

  get listening(): number {
    return this.#listeners.size;
  }

  async #check(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const revision = await this.readRevision();
      // A revision moved by a write nobody rang for. (Rung writes move it too: one redundant, cheap look.)
      if (this.#seen !== undefined && revision !== this.#seen) this.ring();
      this.#seen = revision;
    } catch (err) {
      // The next tick tries again; sessions also re-read the feed on their heartbeat.
      console.error('ursa kds hub: revision watch failed:', err instanceof Error ? err.message : err);
    } finally {
      this.#busy = false;
    }
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#seen = undefined;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#stop();
  }
}
