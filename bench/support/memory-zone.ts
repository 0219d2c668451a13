/**
 * A zone whose state is a Map, for benchmarks that connect hundreds of zones from one process: the KDS
 * client is the real one, only the local store is replaced (the global's side is what is measured).
 */
import type { Rejection, ResourceKey } from '@ursa/proto/gen/kds.js';
import { fromWire, type WireResource } from '@ursa/core';
import { type DownBatch, type InventoryPage, KdsClient } from '@ursa/zone-agent';

export class MemoryState {
  readonly resources = new Map<string, WireResource>();
  revision = 0;
  #staged = new Map<string, WireResource>();
  /** Called after every applied batch with the upserted names (benchmarks time arrivals with it). */
  onApplied?: (names: string[]) => void;

  async lastRevision() {
    return this.revision;
  }
  async advance(revision: number) {
    if (revision > this.revision) this.revision = revision;
  }
  async applyDown(b: DownBatch): Promise<Rejection[]> {
    const key = (r: { kind: string; mesh: string; name: string }) => `${r.kind}/${r.mesh}/${r.name}`;
    // Decoded without validation: the benchmark measures the global, not the zone's checks.
    const upserts = b.upserts.map(fromWire).flatMap((p) => (p.ok ? [p.value] : []));
    if (b.snapshot) {
      for (const r of upserts) this.#staged.set(key(r), r);
      if (!b.complete) return [];
      this.resources.clear();
      for (const [k, r] of this.#staged) this.resources.set(k, r);
      this.#staged.clear();
    } else {
      for (const r of upserts) this.resources.set(key(r), r);
      for (const k of b.removals) this.resources.delete(key(k));
    }
    this.revision = b.revision;
    this.onApplied?.(upserts.map((r) => r.name));
    return [];
  }
  async inventoryRevision() {
    return 1;
  }
  async inventorySince(revision: number): Promise<InventoryPage> {
    return { upserts: [], removals: [], revision: Math.max(revision, 1), more: false, resyncRequired: false };
  }
  async inventoryPage(after: ResourceKey | undefined): Promise<{ resources: WireResource[]; last?: ResourceKey; done: boolean }> {
    return { resources: [], last: after, done: true };
  }
}

export function memoryZone(opts: { name: string; globalUrl: string; token: string; transport: 'ws' | 'poll'; state?: MemoryState }) {
  const state = opts.state ?? new MemoryState();
  const client = new KdsClient({
    globalUrl: opts.globalUrl,
    zone: opts.name,
    token: async () => opts.token,
    transport: opts.transport,
    state,
    instanceId: `${opts.name}-bench`,
    agentVersion: 'bench',
    onLocalChange: () => () => {},
    backoff: { baseMs: 100, maxMs: 2000 },
    pollWaitS: 25,
  });
  return { state, client };
}
