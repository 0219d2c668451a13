/**
 * The VIP table as the DNS component last synced it, handed to the xDS component in memory. Before it, every
 * xDS pass re-read the whole `dns_vips` table from the embedded database (7–17 ms of a change's ~130 ms at
 * 1,000 services, bench/xds.ts timeline), and a pass that found a service without a VIP polled again 300 ms
 * later. Now the allocator's result is published here and a change to it schedules an xDS pass at once.
 * The table is written only by the allocator's `sync`, whose result is every wanted service's live VIP:
 * exactly what a read of the rows not freed returns.
 */
import type { VipMap } from './vips.js';

export class VipBoard {
  #vips: VipMap | undefined;
  readonly #listeners = new Set<() => void>();

  /** The last published table; undefined until the DNS component's first sync (readers then use the database). */
  get current(): VipMap | undefined {
    return this.#vips;
  }

  /** Publishes a sync's result; listeners hear of it only when some VIP differs from the last one. */
  publish(vips: VipMap): void {
    if (this.#vips && sameVips(this.#vips, vips)) return;
    this.#vips = vips;
    for (const l of this.#listeners) l();
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** Whether two VIP tables give every (mesh, service) the same address. */
export function sameVips(a: ReadonlyMap<string, ReadonlyMap<string, string>>, b: ReadonlyMap<string, ReadonlyMap<string, string>>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [mesh, m] of a) {
    const o = b.get(mesh);
    if (!o || o.size !== m.size) return false;
    for (const [service, ip] of m) if (o.get(service) !== ip) return false;
  }
  return true;
}
